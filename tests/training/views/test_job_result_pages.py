"""The job page as a person reads it (training/result_selectors.py + templates/training/job_detail.html): a real judge
job's verdicts and a real generate job's candidates as paginated tables, results as facts and tables (no JSON), a
failed job's one-line reason with the log for its managers only, and an ETA that moves. The evaluate job's page:
tests/training/jobs/test_evaluate_job.py."""
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from training.models import Job, JobKind, JobState
from training.result_selectors import job_eta_seconds, job_result
from training.services.jobs import job_run
from training.templatetags.jobs import metric, readable

from tests.training.job_fixtures import lab, member, outsider, owner, staff, start_diagnostic  # noqa: F401
from tests.training.llm_fixtures import native_project, run_job_inline, tiny, tiny_model_dir  # noqa: F401

pytestmark = pytest.mark.django_db
JSON_SCRIPT = re.compile(r'<script id="[^"]*" type="application/json">.*?</script>', re.S)

PAIRS = [
    {"id": f"p{i}", "kind": "pairwise", "prompt": q,
     "responses": [{"text": good}, {"text": "<b>bold</b> <script>window.x=1</script>" if i == 0 else bad}]}
    for i, (q, good, bad) in enumerate([("Name a prime number.", "7 is prime.", "9 is prime."),
                                        ("Say hello.", "Hello there!", "No."),
                                        ("What is the capital of France?", "Paris.", "Rome.")])
]
PROMPTS = [{"id": f"x{i}", "kind": "thumbs", "prompt": q, "responses": [{"text": "ok"}]}
           for i, q in enumerate(["Name a prime number.", "Say hello."])]


def page_of(client, job: Job, **headers) -> str:
    response = client.get(f"/jobs/{job.pk}/", headers=headers)
    assert response.status_code == 200
    return response.content.decode()


RECORDS = re.compile(r'<section class="card" aria-labelledby="records-h".*?</section>', re.S)


def no_json(html: str) -> None:
    """Nothing the page itself writes looks like a JSON object or a list of objects. Left out: the json_script
    data, base.html's CSRF header for htmx, and the table of model output (the tiny model was taught JSON
    verdicts, so its text may hold some, shown escaped as the text it is)."""
    visible = re.sub(r"hx-headers='[^']*'", "", RECORDS.sub("", JSON_SCRIPT.sub("", html)))
    visible = re.sub(r'<meta name="htmx-config"[^>]*>', "", visible)  # htmx's settings (base.html), not data
    found = re.search(r'\{\s*(&quot;|")', visible)
    assert found is None and "[{" not in visible, visible[max(0, (found.start() if found else 0) - 300):][:600]


def test_a_succeeded_judge_job_page_shows_its_verdicts_as_a_table(client, staff, tiny):
    project = native_project("judged", PAIRS)
    job = run_job_inline(JobKind.JUDGE, project, model_id=tiny.pk, output="choice")
    assert job.state == JobState.SUCCEEDED and "items" in job.artifacts  # what made the old page 500
    client.force_login(staff)
    html = page_of(client, job)
    no_json(html)
    assert re.search(r"<dt>items</dt><dd>3</dd>", html) and f"<dd>{job.artifacts['judge']}</dd>" in html
    section = html[html.index('id="job-records"'):]
    assert 'data-records="verdicts"' in html and "Judge verdicts" in section and "(3)" in section
    rows = re.findall(r'<tr data-item="(\d+)">(.*?)</tr>', section, re.S)
    assert len(rows) == 3
    for _, row in rows:
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        prompt, candidates, verdict, probability, rationale, agreement = cells[1:7]
        assert verdict in ("A is better", "B is better", "Tie") and re.fullmatch(r"[01]\.\d{3}", probability)
        assert "<strong>A</strong>" in candidates and "<strong>B</strong>" in candidates
        assert agreement in ("agree", "disagree")
    # Model and imported text is escaped, never markup.
    assert "&lt;script&gt;window.x=1&lt;/script&gt;" in section and "<script>window.x" not in html


def test_a_generate_job_page_pages_through_its_candidates(client, staff, tiny):
    project = native_project("gen", PROMPTS)
    job = run_job_inline(JobKind.GENERATE, project, model_ids=[tiny.pk], n=8, temperature=1.0, max_tokens=4, seed=1)
    assert job.state == JobState.SUCCEEDED
    items = job.artifacts["items_created"]
    assert items > 20  # pairs of 8 samples per prompt: more than one page
    client.force_login(staff)
    html = page_of(client, job)
    no_json(html)
    section = html[html.index('id="job-records"'):]
    assert "Generated candidates" in section and f"({items})" in section
    assert len(re.findall(r'<tr data-item="', section)) == 20
    assert "tiny-llama" in section and "Page 1 of" in section and 'hx-target="#job-records"' in section
    # The pager's htmx request gets the table fragment only: the next page of rows.
    fragment = client.get(f"/jobs/{job.pk}/?page=2", headers={"HX-Request": "true", "HX-Target": "job-records"})
    body = fragment.content.decode()
    assert body.lstrip().startswith('<section class="card" aria-labelledby="records-h" id="job-records"')
    assert len(re.findall(r'<tr data-item="', body)) == min(20, items - 20) and "Page 2 of" in body
    assert 'id="job-live"' not in body


def test_a_failed_job_shows_a_one_line_reason_and_the_log_only_to_its_managers(client, start_diagnostic, owner,
                                                                              member):
    job = start_diagnostic(steps=3, seconds_per_step=0, fail_at_step=2)
    job_run(job_id=job.pk, worker="test")
    job.refresh_from_db()
    assert job.state == JobState.FAILED and "Traceback" in job.log_tail
    client.force_login(member)  # an annotator of the project: sees the job, not its traceback
    html = page_of(client, job)
    reason = re.search(r'<div class="alert" id="job-failure"><strong>Why it failed:</strong> (.*?)</div>', html).group(1)
    assert "\n" not in reason and "step 2" in reason and "Error:" not in reason
    assert "Traceback" not in html and 'id="job-log"' not in html and 'id="job-log-hidden"' in html
    client.force_login(owner)  # the project's owner: the whole log
    html = page_of(client, job)
    assert 'id="job-failure"' in html and 'id="job-log"' in html and "Traceback" in html


def test_the_eta_moves_while_a_step_takes_longer(start_diagnostic, client, owner):
    job = start_diagnostic(steps=10)
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING, progress=40.0, eta_seconds=75.0, attempts=1,
                                         started_at=now - timedelta(seconds=60), heartbeat_at=now)
    job.refresh_from_db()
    # 60 s for 40 %: 90 s left at that pace; the runner's 75 s was written earlier, when it was true.
    assert job_eta_seconds(job, now=now) == pytest.approx(90.0)
    assert job_eta_seconds(job, now=now + timedelta(seconds=30)) == pytest.approx(135.0)
    assert job_eta_seconds(job, now=now - timedelta(seconds=40)) == 75.0  # never below the runner's estimate
    client.force_login(owner)
    first = re.search(r'id="job-eta" data-seconds="(\d+)"', page_of(client, job)).group(1)
    Job.objects.filter(pk=job.pk).update(started_at=now - timedelta(seconds=120))
    second = re.search(r'id="job-eta" data-seconds="(\d+)"', page_of(client, job)).group(1)
    assert int(second) > int(first) >= 90


def test_a_training_result_reads_as_facts_and_an_evaluation_table(start_diagnostic):
    job = start_diagnostic()
    job.kind = JobKind.TRAIN_DPO
    job.artifacts = {
        "model_artifact": "dpo-job7", "train_rows": 90, "test_rows": 10, "resumed_from_step": None,
        "metrics": {"n": 10, "accuracy": 0.7, "mean_margin": 0.25,
                    "by_source": {"human": {"n": 6, "accuracy": 0.5}, "ai": {"n": 4, "accuracy": 1.0}}},
        "win_rate": {"n": 4, "wins": 2, "losses": 1, "ties": 1, "unparsable": 0, "win_rate": 0.625, "judge": "rm",
                     "prompts": 4, "examples": [{"prompt": [{"role": "user", "content": "Hi?"}], "policy": "Hello",
                                                 "reference": "No", "outcome": "wins"}]},
    }
    result = job_result(job)
    assert ("train rows", 90) in result.facts and ("resumed from step", None) in result.facts
    assert all(name not in ("metrics", "win rate") for name, _ in result.facts)
    evaluation, win = result.tables
    assert evaluation.columns == ["dpo-job7", "chance"]
    rows = dict(evaluation.rows)
    assert rows["accuracy"] == [0.7, 0.5] and rows["mean margin"] == [0.25, None]
    assert rows["accuracy (source human)"] == [0.5, None] and rows["accuracy (source ai)"] == [1.0, None]
    assert evaluation.rows[0][0] == "accuracy"  # the headline number first
    assert dict(win.rows)["win rate"] == [0.625, 0.5]
    assert result.examples == [("Hi?", "Hello", "No", "policy wins")]


def test_values_read_as_words_not_json():
    assert readable(None) == "—" and readable(True) == "yes" and readable([1, 2]) == "1, 2"
    assert readable({"method": "mace", "drop": {"noise_score": 0.7}}) == "method: mace; drop: noise score: 0.7"
    assert readable(1e-05) == "1e-05" and readable("text") == "text"
    assert metric(None) == "—" and metric(3) == "3" and metric(0.12345) == "0.123"
