"""Every HTML page of the app, rendered on the demo data as its owner, must not show template syntax: a multi-line
`{# ... #}` (Django's comment is one line only) or a typo in a tag prints as text. This walks the URL patterns of
annotation and training, fills each one's arguments from the demo (projects, a dataset version, jobs of several
kinds and states, a lease of the labeling queue, a review item), GETs it and fails on `{#`, `{%`, `{{` or `#}`.
A pattern added later without an argument this test knows how to fill fails the test, so it cannot be skipped
by accident."""
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from annotation.models import ImportRun, Item, Label, Project
from annotation.services.datasets import dataset_version_create
from annotation.services.demo import DEMO_OWNER, demo_load
from training.models import Job, JobKind, JobState
from training.services.jobs import job_run, job_start

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parents[1] / "demo" / "data"
TEMPLATE_SYNTAX = re.compile(r"\{#|\{%|\{\{|#\}")
APPS = ("annotation.", "training.")
# Answers that are not HTML pages: downloads, and views that only take POST (405 to a GET).
# Not pages: file downloads, and POST-only member changes (they redirect to the members page, which is rendered).
NOT_PAGES = {"job-artifacts", "job-artifact", "project-member-role", "project-member-remove"}
JSON_SCRIPT = re.compile(r'<script id="[^"]*" type="application/json">.*?</script>', re.S)


def app_patterns() -> list[tuple[str, URLPattern]]:
    """(route, pattern) of every URL pattern whose view lives in annotation or training."""
    found = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif pattern.callback.__module__.startswith(APPS):
                found.append((prefix + str(pattern.pattern), pattern))

    walk(get_resolver().url_patterns, "")
    return [(route, p) for route, p in found if not route.startswith("api/")]


@pytest.fixture
def demo(client):
    demo_load(data_dir=DATA)
    owner = get_user_model().objects.get(username=DEMO_OWNER.username)
    client.force_login(owner)
    hh = Project.objects.get(slug="hh-demo")
    version = dataset_version_create(project=hh, config={"test_fraction": 0.2}, user=owner, name="hygiene")
    done = job_start(kind=JobKind.DIAGNOSTIC, config={"steps": 2, "seconds_per_step": 0}, project=hh, user=owner)
    job_run(job_id=done.pk, worker="test")
    failed = job_start(kind=JobKind.DIAGNOSTIC, config={"steps": 2, "seconds_per_step": 0, "fail_at_step": 1},
                       project=hh, user=owner)
    job_run(job_id=failed.pk, worker="test")
    # A succeeded judge job of the PandaLM demo's first judge, as judge_run leaves it (its result has "items").
    pandalm = Project.objects.get(slug="pandalm-demo")
    label = Label.objects.filter(item__project=pandalm, annotator__kind="judge").select_related("annotator").first()
    judge = _judge_job_row(pandalm, owner, label)
    lease_url = ""
    for slug in Project.objects.order_by("slug").values_list("slug", flat=True):  # the first with work left
        lease_url = client.post(f"/projects/{slug}/label/next/")["Location"]
        if re.search(r"/label/\d+/$", lease_url):
            break
    else:
        pytest.fail("no demo project has an item left for its owner to label")
    # An import job's run, as the upload page leaves it while the worker has not started it yet.
    import_run = ImportRun.objects.create(project_slug="hh-demo", format="hh", file_path="imports/waiting.jsonl",
                                          file_name="big.jsonl.gz", file_bytes=1 << 20, created_by=owner)
    return {"owner": owner, "version": version, "jobs": [done, failed, judge], "lease_url": lease_url,
            "item": Item.objects.filter(project=pandalm).order_by("pk").first(), "import_run": import_run}


def _judge_job_row(project, owner, label) -> Job:
    """The Job row of a finished judge job whose verdicts are the demo's judge labels (the demo imports them
    rather than running a model, which needs a GPU or minutes here)."""
    started = label.created_at - timedelta(seconds=1)
    job = Job.objects.create(
        kind=JobKind.JUDGE, state=JobState.SUCCEEDED, project=project, created_by=owner, progress=100.0,
        config={"model_id": 1, "mode": "pairwise"}, started_at=started, finished_at=timezone.now(), message="judged",
        artifacts={"judge": label.annotator.name, "annotator_id": label.annotator_id, "written": 197, "skipped": 0,
                   "items": 197, "unparsable": 0, "swap_inconsistent": 3, "seconds": 12.5},
    )
    Job.objects.filter(pk=job.pk).update(created_at=started)  # auto_now_add: set after the insert
    job.refresh_from_db()
    return job


def urls_for(route: str, name: str, demo) -> list[str]:
    """Concrete URLs for `route` from the demo data; fails for an argument it does not know."""
    if name == "labeling-task":
        return [demo["lease_url"]]
    args = re.findall(r"<(?:\w+:)?(\w+)>", route)
    urls = ["/" + route]
    for arg in args:
        if arg == "slug":
            values = list(Project.objects.order_by("slug").values_list("slug", flat=True))
        elif arg == "job_id":
            values = [job.pk for job in demo["jobs"]]
        elif arg == "number":
            values = [demo["version"].number]
        elif arg == "item_id":
            values = [demo["item"].pk]
        elif arg == "pk" and name == "import-run":
            values = [demo["import_run"].pk]
        elif arg == "assignment_id":
            values = [int(demo["lease_url"].rstrip("/").rsplit("/", 1)[1])]
        else:
            pytest.fail(f"the hygiene test does not know how to fill <{arg}> of {route!r} ({name}): teach it")
        pattern = re.compile(rf"<(?:\w+:)?{arg}>")
        urls = [pattern.sub(str(value), url, count=1) for url in urls for value in values]
    if "item_id" in args:  # an item belongs to one project
        urls = [u for u in urls if f"/{demo['item'].project.slug}/" in u]
    if "assignment_id" in args:  # and so does a lease
        urls = [u for u in urls if u.startswith(demo["lease_url"].rsplit("/label/", 1)[0] + "/")]
    if "number" in args:
        urls = [u for u in urls if f"/{demo['version'].project.slug}/" in u]
    return urls


def test_no_page_shows_template_syntax(client, demo):
    checked = []
    for route, pattern in app_patterns():
        if pattern.name in NOT_PAGES:
            continue
        for url in urls_for(route, pattern.name, demo):
            response = client.get(url)
            if response.status_code == 405:  # a POST-only view: no page of its own
                continue
            assert response.status_code == 200, f"{url} ({pattern.name}): {response.status_code}"
            assert response["Content-Type"].startswith("text/html"), url
            html = JSON_SCRIPT.sub("", response.content.decode())  # data, not markup
            found = TEMPLATE_SYNTAX.search(html)
            assert found is None, f"{url} ({pattern.name}) shows template syntax: …{html[max(0, found.start() - 120):found.end() + 120]}…"
            checked.append(pattern.name)
    # The pages the issue names, and the job pages of each kind made above, were among them.
    for name in ("job-list", "job-detail", "review-queue", "dataset-version", "labeling-task", "job-start-evaluate"):
        assert name in checked, name
    assert checked.count("job-detail") == 3


def test_the_pager_renders_without_its_comment(client, demo):
    """The review queue, the job list and a version's rows include _pager.html; its comment never shows."""
    for url in ("/jobs/", f"/projects/{demo['version'].project.slug}/datasets/{demo['version'].number}/",
                "/projects/pandalm-demo/review/"):
        html = client.get(url).content.decode()
        assert "Previous / next links" not in html and "#}" not in html, url
