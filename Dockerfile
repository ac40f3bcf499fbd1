# The worker image (also runs the migrate job, the codec server and the HTTP API).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY customer_service ./customer_service
COPY activities ./activities
COPY workflows ./workflows
COPY triggers ./triggers
COPY codec ./codec
COPY api ./api
COPY auth ./auth
COPY worker.py settings.py alembic.ini ./
# The runtime dependencies only: not the `dev-stack` extra (embedded servers are for `make dev`).
# Bytecode is compiled here: the tree is read-only to `app`, and the workflow sandbox loads the
# workflow modules afresh for every run (compiling their source each time if no bytecode exists).
RUN pip install . && python -m compileall -q /app && useradd --create-home --uid 10001 app
USER app

# Stops on SIGTERM after finishing in-flight tasks.
STOPSIGNAL SIGTERM
CMD ["python", "worker.py"]
