"""Shared fixtures. Tests run against real PostgreSQL (DATABASE_URL); see the Makefile."""
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# ../shared/datasets when the checkout sits beside shared/, else the slices shipped in demo/data.
SHARED_DATASETS = Path(os.environ.get("PREFSTUDIO_DATASETS", ROOT.parent / "shared" / "datasets"))


@pytest.fixture(autouse=True)
def _clear_throttle_counts():
    """DRF's throttles count requests in the default cache (locmem here, shared by every test of the
    process): start each test from zero so one test's requests never throttle another's. django-axes counts
    failed logins in the database, which each test's transaction or flush already empties."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def datasets() -> Path:
    if not SHARED_DATASETS.is_dir():
        pytest.fail(f"the real datasets are expected at {SHARED_DATASETS} (set PREFSTUDIO_DATASETS)")
    return SHARED_DATASETS


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="ann", password="a-long-test-password")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user(username="bob", password="a-long-test-password")
