"""The curation pages in real Chromium: agreement chart, a curated version's rows and charts, the curation
form starting a job, and model output (hostile on purpose) shown as text everywhere."""
import io
import json

import pytest

from annotation.models import DatasetVersion
from annotation.services.datasets import dataset_version_create
from annotation.services.imports import data_import
from annotation.services.projects import project_create
from tests.annotation.conftest import PASSWORD
from training.models import Job, JobKind

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">'


def _labels(*verdicts: str) -> list[dict]:
    """Three people then a judge; "-" = no label from that annotator."""
    names = ("alice", "bert", "carl")
    labels = [{"annotator": n, "annotator_kind": "human", "winner": v} for n, v in zip(names, verdicts) if v != "-"]
    judge = verdicts[3] if len(verdicts) > 3 else "-"
    if judge != "-":
        labels.append({"annotator": "judge-gpt", "annotator_kind": "judge", "winner": judge, "probability": 0.8,
                       "swap_consistent": True, "rationale": f"I prefer it. {HOSTILE}"})
    return labels


# Six pairwise items; the people mostly agree, the judge agrees with their majority on 4 of 6.
RECORDS = [
    {"id": f"q{i}", "kind": "pairwise", "prompt": f"Question {i} {HOSTILE}",
     "responses": [{"text": f"Answer A{i} {HOSTILE}", "model": "m1"}, {"text": f"Answer B{i}", "model": "m2"}],
     "labels": _labels(*verdicts)}
    for i, verdicts in enumerate([
        ("A", "A", "A", "A"), ("A", "A", "B", "A"), ("B", "B", "B", "B"),
        ("B", "B", "A", "A"), ("A", "A", "A", "B"), ("B", "A", "B", "B"),
    ])
]


@pytest.fixture
def project(user):
    user.set_password(PASSWORD)
    user.save()
    project = project_create(slug="cur", name="Curation test", owner=user, overlap=3)
    lines = "".join(json.dumps(r) + "\n" for r in RECORDS).encode()
    data_import(project_slug="cur", fmt="native", stream=io.BytesIO(lines), user=user)
    return project


@pytest.fixture
def errors(page) -> list[str]:
    seen: list[str] = []
    page.on("pageerror", lambda error: seen.append(str(error)))
    return seen


def _chart_labels(page, canvas_id: str) -> list[str]:
    return page.evaluate(f"Chart.getChart(document.getElementById('{canvas_id}')).data.labels")


def test_the_agreement_page_draws_each_annotators_agreement(page, login, user, project, errors, screenshot):
    login("ann", PASSWORD)
    page.goto("/projects/cur/dashboard/")
    page.get_by_role("link", name="Agreement").click()
    page.wait_for_url("**/projects/cur/agreement/")
    assert page.locator("#stat-votes").inner_text() == "24"
    page.wait_for_function("typeof Chart !== 'undefined' && Chart.getChart(document.getElementById('chart-agreement'))")
    assert sorted(_chart_labels(page, "chart-agreement")) == ["alice", "bert", "carl", "judge-gpt"]
    assert page.locator("#judge-agreement tbody tr").count() == 1
    # The judge's confusion against the human majority: 6 items, 4 on the diagonal.
    cells = page.locator("figure.confusion td.heat").all_inner_texts()
    assert sum(int(n) for n in cells) == 6 and sum(int(cells[i * 4]) for i in range(3)) == 4
    screenshot("curation-agreement")
    assert page.evaluate("window.__pwned") is None
    assert errors == []


def test_a_curated_version_shows_its_rows_and_charts_with_model_output_as_text(page, login, user, project, errors,
                                                                             screenshot):
    version = dataset_version_create(project=project, config={"method": "majority", "embeddings": False,
                                                              "test_fraction": 0.0}, user=user, name="v-one")
    login("ann", PASSWORD)
    page.goto("/projects/cur/datasets/")
    page.get_by_role("link", name=f"v{version.number}").click()
    page.wait_for_url(f"**/projects/cur/datasets/{version.number}/")
    rows = page.locator("table.rows tbody tr")
    assert rows.count() == version.n_rows > 0
    # The hostile response is a row's text, not markup: no script ran, no image was made.
    assert HOSTILE[:40] in page.locator("table.rows").inner_text()
    assert page.locator("table.rows img").count() == 0
    page.wait_for_function("typeof Chart !== 'undefined' && Chart.getChart(document.getElementById('chart-sources'))")
    assert set(_chart_labels(page, "chart-sources")) <= {"human", "ai", "hybrid", "gold"}
    screenshot("curation-version")
    assert page.evaluate("window.__pwned") is None
    assert errors == []


def test_the_curation_form_starts_a_curate_job_and_opens_it(page, login, user, project, errors, screenshot):
    login("ann", PASSWORD)
    page.goto("/projects/cur/curation/")
    form = page.locator("#curate-form")
    form.get_by_label("Method").select_option("mace")
    form.get_by_label("Test fraction").fill("0.25")
    form.get_by_label("Seed").fill("11")
    form.get_by_label("Drop at noise score ≥").fill("0.8")
    screenshot("curation-form")
    form.get_by_role("button", name="Start the curation run").press("Enter")  # the keyboard alone will do
    page.wait_for_url("**/jobs/*/")
    job = Job.objects.get()
    assert page.url.endswith(f"/jobs/{job.pk}/")
    config = job.config.get("curation", job.config)
    assert (job.kind, job.project_id) == (JobKind.CURATE, project.pk)
    assert (config["method"], config["test_fraction"], config["seed"]) == ("mace", 0.25, 11)
    assert config["drop"] == {"noise_score": 0.8}
    assert page.locator("#job-progress").count() == 1
    assert errors == []
    assert not DatasetVersion.objects.exists()  # no worker here: the job only waits in its queue


def test_routing_from_the_page_runs_as_a_job_and_shows_the_cross_fitted_gain(page, login, user, errors, screenshot):
    """The form queues a `route` job and opens its page; once a worker ran it, the curation page shows the run's
    out-of-sample figures against random and the gain histogram."""
    from training.services.jobs import job_run

    user.set_password(PASSWORD)
    user.save()
    project_create(slug="route", name="Routing test", owner=user)
    probabilities = [0.95, 0.6, 0.2, 0.5, 0.85, 0.4, 0.7, 0.05]
    records = [  # judge-only items, so every one can be routed
        {"id": f"r{i}", "kind": "pairwise", "prompt": f"Question {i}?",
         "responses": [{"text": f"A {i}"}, {"text": f"B {i} {HOSTILE}"}],
         "labels": [{"annotator": "judge-gpt", "annotator_kind": "judge", "winner": "A" if p > 0.5 else "B",
                     "probability": p, "swap_consistent": i % 3 != 0}]}
        for i, p in enumerate(probabilities)
    ]
    records += [  # the same with a person's label: the judge is wrong on r3 and r6, unsure and swap-inconsistent
        {**r, "id": f"h{r['id']}", "labels": r["labels"] + [
            {"annotator": "alice", "annotator_kind": "human", "winner": w}]}
        for r, w in zip(records, "AABAABBB")
    ]
    lines = "".join(json.dumps(r) + "\n" for r in records).encode()
    data_import(project_slug="route", fmt="native", stream=io.BytesIO(lines), user=user)
    login("ann", PASSWORD)
    page.goto("/projects/route/curation/")
    form = page.locator("#routing-form")
    form.get_by_label("Policy").select_option("rules")
    form.get_by_label("Budget (share of items)").fill("0.25")
    form.get_by_label("Budget (share of items)").press("Enter")
    page.wait_for_url("**/jobs/*/")
    job = Job.objects.get(kind=JobKind.ROUTE)
    assert page.url.endswith(f"/jobs/{job.pk}/") and page.locator("#job-progress").count() == 1
    assert job_run(job_id=job.pk, worker="test") == "succeeded"  # as a worker would
    page.goto("/projects/route/curation/")
    page.wait_for_function("typeof Chart !== 'undefined' && Chart.getChart(document.getElementById('chart-gain'))")
    assert page.locator("#routed-human").inner_text() == "2"
    table = page.locator("#routing-crossfit").inner_text()
    assert "Random at the same budget" in table and "Cross-fitted gain" in table
    assert page.locator("#crossfit-caught").inner_text() == "2"  # the rules rank r3 (5.0) and r6 (4.6) first
    screenshot("curation-routing")
    assert page.evaluate("window.__pwned") is None
    assert errors == []
