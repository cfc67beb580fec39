"""The curation pages through Django's test client: access, empty states, the curation and routing forms,
dataset versions with their rows (escaped), and the consensus / signals on the review item page."""
import json

import pytest
from django.utils.html import escape

from annotation.models import DatasetRow, DatasetVersion, ItemFlag
from annotation.selectors.identities import annotator_names_for
from annotation.services.projects import project_create
from tests.annotation.review_data import item, review_project
from training.models import Job, JobKind

pytestmark = pytest.mark.django_db

HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">'
PAGES = ("agreement/", "curation/", "datasets/")


@pytest.fixture
def project(user):
    return review_project(owner=user)


@pytest.fixture
def owner(client, user, project):
    client.force_login(user)
    return user


def _version(project, *, user=None, n_rows=3, hostile=False) -> DatasetVersion:
    """A frozen version as a curation run writes it: rows with provenance, stats with the drops by reason."""
    version = DatasetVersion.objects.create(
        project=project, number=1, name="first cut", filter_config={"method": "majority", "test_fraction": 0.25},
        config_hash="c0ffee" * 10, n_rows=n_rows, created_by=user,
        stats={"kept_items": n_rows, "dropped": {"noise_score": 2, "tie": 1}},
    )
    chosen = HOSTILE if hostile else "Paris is the capital of France."
    for index in range(n_rows):
        DatasetRow.objects.create(
            version=version, index=index, split="test" if index == 0 else "train", kind="pairwise",
            data={"prompt": [{"role": "user", "content": f"Question {index}?"}], "chosen": chosen,
                  "rejected": "Lyon, I think.", "margin": None},
            weight=0.5 if index == 2 else 1.0,
            provenance={"item": f"it-{index}", "origin": "pairwise", "source": "human" if index else "hybrid",
                        "votes": {"A": 2, "B": 0, "tie": 0}, "agreement": 1.0, "probability": 0.9,
                        "noise_score": 0.42 if index == 2 else 0.0,
                        "reasons": ["people disagree: A ×1 · B ×1"] if index == 2 else []},
        )
    return version


def test_annotators_get_403_and_outsiders_404_on_every_page(client, project, make_user):
    _version(project)
    client.force_login(make_user("ada", project=project, role="annotator"))
    for page in PAGES + ("datasets/1/",):
        assert client.get(f"/projects/rev/{page}").status_code == 403, page
    assert client.post("/projects/rev/curation/run/", {}).status_code == 403
    client.force_login(make_user("zed"))
    for page in PAGES + ("datasets/1/",):
        assert client.get(f"/projects/rev/{page}").status_code == 404, page
    assert client.post("/projects/rev/curation/run/", {}).status_code == 404
    assert not Job.objects.exists()


def test_a_reviewer_sees_the_pages_but_may_not_start_runs(client, project, make_user):
    client.force_login(make_user("rita", project=project, role="reviewer"))
    for page in PAGES:
        assert client.get(f"/projects/rev/{page}").status_code == 200, page
    html = client.get("/projects/rev/curation/").content.decode()
    assert 'id="curate-form"' not in html
    assert client.post("/projects/rev/curation/run/", {"method": "majority"}).status_code == 403
    assert not Job.objects.exists()


def test_a_project_without_labels_shows_empty_states(client, user):
    project_create(slug="bare", name="Bare", owner=user)
    client.force_login(user)
    assert 'id="agreement-empty"' in client.get("/projects/bare/agreement/").content.decode()
    assert 'id="versions-empty"' in client.get("/projects/bare/datasets/").content.decode()
    assert client.get("/projects/bare/datasets/1/").status_code == 404


def _figure(html: str, key: str) -> str:
    """The value cell of figure `key` in the agreement table."""
    row = html.split(f'<tr data-figure="{key}">')[1].split("</tr>")[0]
    return row.split('<td class="num">')[1].split("</td>")[0].strip()


def test_the_agreement_page_shows_hand_worked_figures(client, owner):
    """People's votes: split A/B (0 agreeing pairs of 1), agree A/A (1 of 1), gone A/B (0 of 1): raw 1/3.
    judge-gpt against the human majority: split has none (a draw), agree says A and the judge B: 0 of 1."""
    html = client.get("/projects/rev/agreement/").content.decode()
    assert _figure(html, "raw_agreement") == "0.333"
    # Listwise: rank-diff's two rankings swap one adjacent pair of 3 (tau 1/3), rank-ties' are the same (tau 1).
    assert _figure(html, "kendall_tau") == f"{(1 / 3 + 1) / 2:.3f}"
    judge = html.split('<table id="judge-agreement">')[1].split("</table>")[0]
    assert "judge-gpt" in judge and '<td class="num">0.000</td>' in judge and '<td class="num">1</td>' in judge
    # confusion[human A][judge B] = 1, every other cell 0
    cells = html.split('data-judge="judge-gpt"')[1].split("</figure>")[0].split('data-n="')[1:]
    assert [int(c.split('"')[0]) for c in cells] == [0, 1, 0, 0, 0, 0, 0, 0, 0]
    data = json.loads(html.split('id="curation-data" type="application/json">')[1].split("</script>")[0])
    assert dict(zip(data["annotators"]["labels"], data["annotators"]["judge"])) == {
        "alice": False, "bert": False, "judge-gpt": True}


def test_a_project_of_rankings_only_has_tau_and_no_pairwise_figures(client, user):
    from tests.annotation.review_data import RECORDS

    review_project(owner=user, slug="ranks", records=[r for r in RECORDS if r["kind"] == "listwise"])
    client.force_login(user)
    html = client.get("/projects/ranks/agreement/").content.decode()
    assert _figure(html, "kendall_tau") == "0.667"
    assert _figure(html, "raw_agreement") == '<span class="muted">—</span>'


def test_the_agreement_page_can_count_the_judges_too(client, owner):
    """With judge-gpt's votes: split A/B/A (1 agreeing pair of 3), agree A/A/B (1 of 3), gone A/B (0 of 1)."""
    html = client.get("/projects/rev/agreement/?judges=1").content.decode()
    assert _figure(html, "raw_agreement") == f"{(1 / 3 + 1 / 3 + 0) / 3:.3f}"


def test_a_reviewer_sees_people_as_numbers_under_blind_review(client, project, make_user):
    client.force_login(make_user("rita", project=project, role="reviewer"))
    html = client.get("/projects/rev/agreement/").content.decode()
    assert "annotator 1" in html and "annotator 2" in html and "judge-gpt" in html
    assert "alice" not in html and "bert" not in html


def test_the_dashboard_links_to_the_curation_pages(client, owner):
    html = client.get("/projects/rev/dashboard/").content.decode()
    for url in ("/projects/rev/agreement/", "/projects/rev/curation/", "/projects/rev/datasets/"):
        assert f'href="{url}"' in html


def test_the_curation_form_shows_the_config_defaults_and_help(client, owner):
    html = client.get("/projects/rev/curation/").content.decode()
    assert 'id="curate-form"' in html
    assert '<option value="dawid_skene" selected>' in html  # CurationConfig.method's default
    assert 'name="test_fraction" value="0.1"' in html
    assert "Share of items (not rows) put in the test split" in html  # the field's docstring as help
    assert 'name="drop__noise_score"' in html and 'name="drop__signals"' in html


def test_the_curation_form_starts_a_curate_job_with_the_config(client, owner, project):
    response = client.post("/projects/rev/curation/run/", {
        "method": "majority", "sources": ["human", "gold"], "drop__noise_score": "0.7",
        "drop__signals": ["judge_swap_inconsistent"], "downweight": "0.5", "min_weight": "0.2", "ties": "drop",
        "listwise_pairs": "adjacent", "edit_pairs": "on", "test_fraction": "0.2", "seed": "7", "name": "clean v1",
    })
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    assert (job.kind, job.project_id, job.created_by_id) == (JobKind.CURATE, project.pk, owner.pk)
    config = job.config.get("curation", job.config)  # the runner's config may nest CurationConfig
    assert config["method"] == "majority" and config["seed"] == 7 and config["test_fraction"] == 0.2
    assert config["drop"] == {"noise_score": 0.7, "judge_swap_inconsistent": True}
    assert config["sources"] == ["human", "gold"] and config["include_judges"] is False
    assert job.config["name"] == "clean v1"
    assert (config["downweight"], config["min_weight"], config["listwise_pairs"]) == (0.5, 0.2, "adjacent")


def test_a_bad_curation_config_is_shown_on_its_field_and_starts_nothing(client, owner):
    response = client.post("/projects/rev/curation/run/", {
        "method": "majority", "sources": ["human"], "ties": "drop", "listwise_pairs": "none",
        "test_fraction": "1.5", "seed": "0", "downweight": "0", "min_weight": "0.1",
    })
    assert response.status_code == 400
    html = response.content.decode()
    assert "test_fraction must be in [0, 1)" in html
    assert not Job.objects.exists()


def test_the_version_list_shows_each_version(client, owner, project):
    _version(project, user=owner)
    html = client.get("/projects/rev/datasets/").content.decode()
    assert 'href="/projects/rev/datasets/1/"' in html and "first cut" in html
    assert "3 / 3" in html  # 3 rows kept, 2 + 1 dropped
    assert "c0ffeec0ffee" in html


def test_the_version_page_shows_stats_rows_exports_and_escapes_model_output(client, owner, project):
    _version(project, user=owner, hostile=True)
    response = client.get("/projects/rev/datasets/1/")
    html = response.content.decode()
    assert response.status_code == 200
    assert HOSTILE not in html and "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert html.count('<tr data-row="') == 3
    assert "people disagree: A ×1 · B ×1" in html and "0.42" in html
    data = json.loads(html.split('id="curation-data" type="application/json">')[1].split("</script>")[0])
    assert data["dropped"] == {"labels": ["noise_score", "tie"], "values": [2, 1]}
    assert dict(zip(data["sources"]["labels"], data["sources"]["values"])) == {"human": 2, "hybrid": 1}
    assert dict(zip(data["splits"]["labels"], data["splits"]["values"])) == {"test": 1, "train": 2}
    assert "/api/projects/rev/datasets/1/export/?format=trl&amp;encoding=jsonl" in html
    assert '/jobs/train/?trainer=train_rm&amp;dataset_version=' in html
    assert '&quot;test_fraction&quot;: 0.25' in html  # the filter config, as JSON


def test_the_rows_table_filters_by_split_and_pages_over_htmx(client, owner, project):
    _version(project, n_rows=30)
    html = client.get("/projects/rev/datasets/1/?split=test", headers={"HX-Request": "true"}).content.decode()
    assert html.lstrip().startswith('<section id="rows-table"') and "<html" not in html
    assert html.count('<tr data-row="') == 1
    second = client.get("/projects/rev/datasets/1/?page=2").content.decode()
    assert second.count('<tr data-row="') == 5  # 30 rows, 25 a page
    assert "Page 2 of 2" in second
    assert 'href="?page=1" hx-get="?page=1" hx-target="#rows-table"' in second  # the pager swaps the table
    train = client.get("/projects/rev/datasets/1/?split=train").content.decode()
    assert 'href="?split=train&amp;page=2"' in train  # and keeps the split


def test_the_review_item_page_shows_each_flag_with_its_value_and_reason(client, owner, project):
    split = item(project, "split")
    ItemFlag.objects.create(item=split, name="noise:annotator_disagreement", value=0.5,
                            reason="people disagree: A ×1 · B ×1")
    ItemFlag.objects.create(item=split, name="routing:disagreement", value=1.0,
                            reason=f"the human said B, the judges A {HOSTILE}")
    html = client.get(f"/projects/rev/review/{split.pk}/").content.decode()
    assert "<code>noise:annotator_disagreement</code>" in html and "0.500" in html
    assert "people disagree: A ×1 · B ×1" in html
    assert "<code>routing:disagreement</code>" in html and HOSTILE not in html


JUDGED = [  # judge-only pairwise items; the judge is sure of some and unsure of others
    {"id": f"j{i}", "kind": "pairwise", "prompt": f"Question {i}?",
     "responses": [{"text": f"A answer {i}"}, {"text": f"B answer number {i}, longer"}],
     "labels": [{"annotator": "judge-gpt", "annotator_kind": "judge", "winner": "A" if p > 0.5 else "B",
                 "probability": p, "swap_consistent": i % 2 == 0}]}
    for i, p in enumerate([0.95, 0.55, 0.1, 0.5, 0.9, 0.45])
]


def test_the_routing_form_starts_a_job_and_the_page_shows_its_cross_fitted_gain(client, user):
    """Nothing is routed in the request: it queues a `route` job (its page shows the progress); a worker runs it;
    the curation page then shows the run's out-of-sample figures against random, and no in-sample gain."""
    from annotation.models import Item, Route, RoutingDecision
    from training.services.jobs import job_run

    review_project(owner=user, slug="routed", records=JUDGED + [
        {**r, "id": f"h{r['id']}", "labels": r["labels"] + [{"annotator": "ann", "annotator_kind": "human",
                                                              "winner": w}]}
        for r, w in zip(JUDGED, "BABBAA")])  # the same judged items with a person's label: 2 AI errors
    client.force_login(user)
    response = client.post("/projects/routed/curation/routing/",
                           {"policy": "rules", "budget_count": "2", "seed": "0"})
    job = Job.objects.get(kind=JobKind.ROUTE)
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    assert job.config == {"policy": "rules", "seed": 0, "embeddings": False, "budget_count": 2,
                          "budget_fraction": None}
    assert not RoutingDecision.objects.exists()  # not inside the web request
    assert job_run(job_id=job.pk, worker="test") == "succeeded"
    job.refresh_from_db()
    assert job.progress == 100 and job.artifacts["human"] == 2 and job.artifacts["crossfit"]["items"] == 6
    decisions = RoutingDecision.objects.filter(project__slug="routed")
    assert decisions.count() == 6 and decisions.filter(routed_to=Route.HUMAN).count() == 2
    assert Item.objects.filter(project__slug="routed", route=Route.HUMAN).count() == 2
    html = client.get("/projects/routed/curation/").content.decode()
    assert 'id="routed-human">2<' in html and 'id="routed-ai">4<' in html
    cf = job.artifacts["crossfit"]
    assert f'id="crossfit-caught">{cf["caught"]}<' in html and 'data-baseline="random"' in html
    assert "Predicted gain" not in html and 'id="chart-gain"' in html
    data = json.loads(html.split('id="curation-data" type="application/json">')[1].split("</script>")[0])
    assert sum(data["gain"]["human"]) == 2 and sum(data["gain"]["ai"]) == 4


def test_the_routing_form_needs_one_budget(client, owner):
    response = client.post("/projects/rev/curation/routing/", {"policy": "random", "seed": "0"})
    assert response.status_code == 400
    assert "Give the budget as a share of the items or as a number of items" in response.content.decode()


def test_the_review_item_page_shows_the_items_consensus_and_noise_signals(client, owner, project):
    from annotation.models import ItemConsensus
    from annotation.services.curation import consensus_refresh

    consensus_refresh(project=project, method="majority", embeddings=False)
    split = item(project, "split")
    consensus = ItemConsensus.objects.get(item=split)
    html = client.get(f"/projects/rev/review/{split.pk}/").content.decode()
    shown = html.split('<dl id="item-consensus">')[1].split("</dl>")[0]
    assert "<dd>majority</dd>" in shown and f"{consensus.noise_score:.3f}" in shown
    for name, value in consensus.signals.items():
        assert f"<code>{name}</code>" in shown and f"{value:.3f}" in shown
    assert split.flags.exists()
    for flag in split.flags.all():  # every noise flag the refresh raised, with its value and reason
        reason = annotator_names_for(project=project, user=None, visible=True).render(flag.reason)  # owner's view
        assert f"<code>{flag.name}</code>" in html and escape(reason) in html


def test_a_job_started_from_the_form_freezes_a_version_when_a_worker_runs_it(client, owner, project):
    """The form's config is what the curate runner accepts: run the queued job here, as a worker would."""
    from training.services.jobs import job_run

    client.post("/projects/rev/curation/run/", {
        "method": "majority", "sources": ["human", "ai", "hybrid", "gold"], "ties": "drop",
        "listwise_pairs": "all_pairs", "test_fraction": "0", "seed": "0", "downweight": "0", "min_weight": "0.1",
        "name": "from the form",
    })
    job = Job.objects.get()
    assert job_run(job_id=job.pk, worker="test") == "succeeded"
    version = DatasetVersion.objects.get(project=project)
    assert (version.name, version.filter_config["method"], version.created_by_id) == ("from the form", "majority",
                                                                                      owner.pk)
    html = client.get(f"/projects/rev/datasets/{version.number}/").content.decode()
    assert html.count('<tr data-row="') == version.n_rows > 0


def test_the_version_page_says_which_reward_model_gave_the_margins(client, owner, project):
    version = _version(project, user=owner)
    version.stats = {**version.stats, "consensus": {"rm_margins": {
        "source": "fine_tuned+heads", "fine_tuned_pairs": 40, "head_pairs": 60, "folds": 5, "repeats": 3,
        "fine_tuned_models": [{"model_id": 9, "trained_on_version": 2, "trained_pairs": 60, "scored_pairs": 40}]}}}
    version.save()
    html = client.get("/projects/rev/datasets/1/").content.decode()
    said = html.split('id="rm-margins-source">')[1].split("</p>")[0]
    assert "fine-tuned reward model #9 (trained on version 2) on the 40 pairs it was not trained on" in said
    assert "5-fold cross-fitted embedding heads on 60 pairs (the fallback)" in said
    version.stats = {**version.stats, "consensus": {}}  # a version from before: nothing said
    version.save()
    assert 'id="rm-margins-source"' not in client.get("/projects/rev/datasets/1/").content.decode()
