"""Fixtures of the job tests (imported by name into the test modules that use them).

People: `staff`; `owner` owns project "lab"; `member` is an annotator there; `outsider` belongs nowhere.
`temp_kind` registers a throw-away runner in place of a real kind's (SPARE_KIND) and puts the real one back afterwards.
`broker` is the Redis database of TEST_BROKER_URL (CELERY_BROKER_URL), emptied before and after the test.
"""
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import redis
from django.conf import settings

from annotation.models import Project
from annotation.services.projects import membership_set, project_create
from training.jobs import registry
from training.models import Job, JobKind
from training.services.jobs import job_start

PASSWORD = "a-long-test-password"
# Every kind has a runner now; tests borrow this one's slot for runners of their own (the Job table's check
# constraint allows only JobKind values) and restore the real runner afterwards.
SPARE_KIND = JobKind.EVALUATE


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(username="operator", password=PASSWORD, is_staff=True)


@pytest.fixture
def owner(django_user_model):
    return django_user_model.objects.create_user(username="olga", password=PASSWORD)


@pytest.fixture
def member(django_user_model, lab):
    person = django_user_model.objects.create_user(username="max", password=PASSWORD)
    membership_set(project=lab, user=person, role="annotator")
    return person


@pytest.fixture
def outsider(django_user_model):
    return django_user_model.objects.create_user(username="otto", password=PASSWORD)


@pytest.fixture
def lab(owner) -> Project:
    return project_create(slug="lab", name="Lab", owner=owner)


@pytest.fixture
def start_diagnostic(lab) -> Callable[..., Job]:
    """start_diagnostic(**config) -> a queued diagnostic job of project "lab", started from the command line."""

    def start(**config) -> Job:
        return job_start(kind=JobKind.DIAGNOSTIC, config=config, project=lab)

    return start


@dataclass
class TempConfig:
    """Config of the throw-away kinds."""

    steps: int = 3


@pytest.fixture
def temp_kind() -> Iterator[Callable[..., str]]:
    """temp_kind(run, rerun_on_worker_lost=True) registers `run` for SPARE_KIND and returns the kind."""
    real = registry.job_type(SPARE_KIND)

    def use(run, *, rerun_on_worker_lost: bool = True) -> str:
        registry.unregister(SPARE_KIND)
        registry.register(SPARE_KIND, config=TempConfig, rerun_on_worker_lost=rerun_on_worker_lost)(run)
        return SPARE_KIND.value

    yield use
    registry.unregister(SPARE_KIND)
    registry.register(SPARE_KIND, config=real.config_class, queue=real.queue,
                      rerun_on_worker_lost=real.rerun_on_worker_lost,
                      needs_dataset_version=real.needs_dataset_version)(real.run)


@pytest.fixture
def broker() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()
