"""A pending figures page reloads itself every 5 s; it asks a worker for the figures once a minute, not on every
reload (one message on the real broker, the test's Redis, for several views; again once the minute is over)."""
import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse

from annotation.selectors import stored_figures
from annotation.services import figures
from tests.annotation.review_data import review_project
from tests.training.worker_process import flush_broker

pytestmark = pytest.mark.django_db(transaction=True)  # on_commit sends the message: commit the rows


def test_a_pending_page_asks_the_worker_once_not_on_every_reload(user, client, monkeypatch):
    flush_broker()  # no worker runs in this module: every message sent stays in the "default" list
    cache.clear()
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    project = review_project(owner=user)
    monkeypatch.setattr(stored_figures, "LIVE_LABELS", 0)  # as if the project were large
    client.force_login(user)
    url = reverse("curation-agreement", args=[project.slug])
    for _ in range(4):
        page = client.get(url)
        assert page.status_code == 200 and 'id="agreement-pending"' in page.content.decode()
    assert broker.llen("default") == 1
    cache.clear()  # as after ASK_AGAIN_AFTER seconds
    client.get(url)
    assert broker.llen("default") == 2
    # an import's ask (new data) is never held back by a page's
    figures.figures_refresh_enqueue(project_id=project.pk, names=list(figures.OPENING_FIGURES))
    assert broker.llen("default") == 3
    flush_broker()
