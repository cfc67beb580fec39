"""PrefStudio settings, split by concern and read from the environment (12-factor).

Every value that differs between a laptop, CI and production comes from an environment
variable; the defaults are the safe production ones (DEBUG off, no hosts allowed, secure
cookies), and `make run` / `make test` set the development values explicitly.
"""
from .base import *  # noqa: F401,F403
from .database import *  # noqa: F401,F403
from .celery import *  # noqa: F401,F403
from .storage import *  # noqa: F401,F403
from .security import *  # noqa: F401,F403
from .api import *  # noqa: F401,F403
from .imports import *  # noqa: F401,F403
