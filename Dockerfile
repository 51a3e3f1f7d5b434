# The leads service: gunicorn serving app:create_app(), migrations applied at start.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOST=0.0.0.0 PORT=8000
WORKDIR /app

COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

COPY app.py gunicorn.conf.py ./
COPY leads ./leads
COPY schemas ./schemas

RUN useradd --create-home --uid 10001 leads && chown -R leads /app
USER leads

EXPOSE 8000
# DATABASE_URL must be set in a container: the embedded server is for development.
CMD ["gunicorn", "--config", "gunicorn.conf.py", "app:create_app()"]
