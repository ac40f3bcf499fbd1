# The worker image (also runs the migrate job, the codec server and the HTTP API).
# The base is pinned by digest at build time: this tree was written offline, where the digest of
# python:3.11-slim could not be read, so none is invented here. Pass the one you verified:
#   docker buildx imagetools inspect python:3.11-slim   (the "Digest:" line)
#   docker build --build-arg PYTHON_IMAGE=python:3.11-slim@sha256:<digest> .
# docs/security.md (supply chain) has the procedure.
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md requirements.lock ./
COPY customer_service ./customer_service
COPY activities ./activities
COPY workflows ./workflows
COPY triggers ./triggers
COPY codec ./codec
COPY api ./api
COPY auth ./auth
COPY worker.py settings.py supervision.py alembic.ini ./
# The runtime dependencies only, exactly as locked with their hashes (requirements.lock, from
# `make lock`): no `dev`/`dev-stack` extra (test tools, embedded servers are for `make dev`).
# Bytecode is compiled here: the tree is read-only to `app`, and the workflow sandbox loads the
# workflow modules afresh for every run (compiling their source each time if no bytecode exists).
RUN pip install --require-hashes --no-deps -r requirements.lock \
    && pip install --no-deps . \
    && python -m compileall -q /app && useradd --create-home --uid 10001 app
USER app

# Stops on SIGTERM after finishing in-flight tasks.
STOPSIGNAL SIGTERM
CMD ["python", "worker.py"]
