# The leads service: gunicorn serving app:create_app(); migrations are applied at start.
# Build: docker build -t leads .   Run: docker run -e DATABASE_URL=postgresql://... -p 8000:8000 leads
# Every setting is an environment variable: docs/DEPLOYING.md.

# Build stage: the pinned requirements, installed into a virtual environment.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install --no-compile -r /tmp/requirements.txt

# Final stage: the interpreter, the virtual environment and the code, nothing else (no
# compiler, no pip cache). The code belongs to root: the service cannot rewrite itself.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    HOST=0.0.0.0 \
    PORT=8000 \
    LEADS_EMBEDDED_DATABASE=false
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin leads
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY app.py gunicorn.conf.py ./
COPY leads ./leads
COPY leads_contract ./leads_contract
COPY schemas ./schemas
USER 10001:10001

EXPOSE 8000
# Liveness only (the process answers); /readyz tells whether the database does.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/healthz', timeout=4)"]
CMD ["gunicorn", "--config", "gunicorn.conf.py", "app:create_app()"]
