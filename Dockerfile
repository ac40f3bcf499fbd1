# The worker image (also runs the migrate job and the codec server).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY customer_service ./customer_service
COPY activities ./activities
COPY workflows ./workflows
COPY triggers ./triggers
COPY devstack ./devstack
COPY codec ./codec
COPY worker.py settings.py alembic.ini ./
RUN pip install . && useradd --create-home --uid 10001 app
USER app

# Stops on SIGTERM after finishing in-flight tasks.
STOPSIGNAL SIGTERM
CMD ["python", "worker.py"]
