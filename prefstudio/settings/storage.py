"""Files: static files, uploaded imports, training artifacts and local model weights."""
from pathlib import Path

from .base import BASE_DIR
from .env import env_str

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
MEDIA_URL = "media/"

# Where training jobs write checkpoints and trained weights, and where local base models live.
ARTIFACT_DIR = Path(env_str("ARTIFACT_DIR", str(BASE_DIR / "var" / "artifacts")))
MODEL_DIR = Path(env_str("MODEL_DIR", str(BASE_DIR / "var" / "models")))

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
