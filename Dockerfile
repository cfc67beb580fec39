# PrefStudio: one image for the web server and the Celery workers (see docker-compose.yml).
# The GPU worker runs the same image for now; the GPU training stack (torch + vLLM) is added to it
# when the training jobs land.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=prefstudio.settings

WORKDIR /app

COPY requirements/ requirements/
RUN pip install -r requirements/base.txt

COPY . .
# Static files are collected at build time (whitenoise serves them); the settings need a secret
# key to load, so the build uses a throwaway one that never reaches a running container.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput -v0 \
    && useradd --create-home --uid 1000 prefstudio \
    && mkdir -p /data/artifacts /data/models /data/media \
    && chown -R prefstudio /data

USER prefstudio
EXPOSE 8000
CMD ["gunicorn", "prefstudio.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]
