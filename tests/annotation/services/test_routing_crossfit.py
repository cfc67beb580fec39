"""Routing evaluated out of sample (issue 14, item 5): the cross-fitted gain is the only gain reported, the fitted
router is saved and reused while its training rows are unchanged, response embeddings are cached by content hash.
Real PostgreSQL, real scikit-learn models, the real all-MiniLM embedder (counted, not replaced)."""
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from sklearn.metrics import roc_auc_score

from annotation.curation import routing as core
from annotation.curation import text as text_module
from annotation.models import EmbeddingCache, RoutingModel, RoutingRun
from annotation.selectors.votes import pairwise_votes
from annotation.services.imports import data_import
from annotation.services.curation import item_texts
from annotation.services.routing import _target, routing_run
from tests.annotation.services.curation_data import human, import_records, judge, pair

pytestmark = pytest.mark.django_db

ROUTABLE = [pair(f"new-{i}", [judge("A", 0.5 + i / 20)]) for i in range(6)]


def labelled(i: int, *, informative: bool = True) -> dict:
    """An item with both labels. Informative: the judge is wrong exactly when it is unsure. Else: wrong on a
    seeded coin flip, whatever its confidence -- nothing to learn, so only an in-sample figure would look good."""
    p = 0.52 + i / 200 if i % 2 == 0 else 0.97 - i / 400
    wrong = (i % 2 == 0) if informative else bool(np.random.default_rng(i).random() < 0.4)
    return pair(f"lab-{i}", [human("alice", winner="B" if wrong else "A"), judge("A", p)],
                responses=[{"text": f"Answer A number {i}."}, {"text": f"Answer B, a different one, number {i}."}])


def _run(project, **options):
    return routing_run(project=project, **{"embeddings": False, "seed": 0, **options})


def test_the_reported_gain_is_cross_fitted_not_in_sample(user):
    """AI errors that are coin flips: a model fitted on all the items ranks them well in sample, but the gain the
    run reports comes from models that never saw the item, and says there is nothing to gain."""
    project = import_records(owner=user, slug="coin", records=ROUTABLE + [labelled(i, informative=False)
                                                                          for i in range(60)])
    result = _run(project, policy="learned", budget_fraction=0.3)
    cf = result["crossfit"]
    assert cf["items"] == 60 and cf["folds"] == 5 and set(result) >= {"crossfit", "model"}
    assert "gain_total" not in result and "random_gain" not in result  # no in-sample / predicted figure
    votes = pairwise_votes(project=project)
    features, names = core.routing_features(votes, texts=item_texts(project=project, item_ids=votes.item_ids))
    target = _target(votes)
    keep = ~np.isnan(target)
    boosting = core.GainModel(seed=0)._candidates()["boosting"].fit(features[keep], target[keep].astype(int))
    in_sample = boosting.predict_proba(features[keep])[:, 1]
    assert roc_auc_score(target[keep], in_sample) > 0.9  # what an in-sample report would have claimed
    assert cf["auroc"] < 0.7 and abs(cf["gain"]) < 0.25 * cf["ai_errors"]
    # the same figure by hand: out-of-fold gains, top 30 % of the labelled items
    gain, y, folds = core.crossfit_scores(features, names, target, policy="learned", seed=0)
    assert cf == core.budget_report(gain, y, budget_share=result["budget"] / result["items"], seed=0, folds=folds)
    assert RoutingRun.objects.get(run_id=result["run_id"]).report["crossfit"] == cf


def test_the_rules_are_measured_on_the_labelled_items_too(user):
    project = import_records(owner=user, slug="rules", records=ROUTABLE + [labelled(i) for i in range(20)])
    cf = _run(project, policy="rules", budget_fraction=0.5)["crossfit"]
    # the judge is wrong exactly on its 10 unsure items, which the rules' uncertainty term ranks first
    assert (cf["items"], cf["ai_errors"], cf["budget"], cf["caught"], cf["folds"]) == (20, 10, 10, 10, 0)
    assert cf["random_caught"] == 5.0 and cf["gain"] == 5.0 and cf["auroc"] == 1.0


def test_the_router_is_saved_and_reused_until_new_labels_arrive(user, monkeypatch):
    project = import_records(owner=user, slug="reuse", records=ROUTABLE + [labelled(i) for i in range(20)])
    fits = []
    real_fit = core.GainModel.fit
    monkeypatch.setattr(core.GainModel, "fit", lambda self, *a, **k: fits.append(1) or real_fit(self, *a, **k))
    first = _run(project, policy="learned", budget_count=2)
    assert first["model"]["reused"] is False and RoutingModel.objects.filter(project=project).count() == 1
    fitted = len(fits)  # the model itself plus one per cross-fitting fold
    assert fitted == 1 + first["crossfit"]["folds"]
    second = _run(project, policy="learned", budget_count=3)  # another budget: reported from the stored folds
    assert second["model"]["reused"] is True and len(fits) == fitted  # not fitted again
    assert second["model"]["kind"] == first["model"]["kind"] and second["crossfit"]["folds"] == 5
    assert second["crossfit"]["budget"] == round(3 / 6 * 20)
    # A new item with both labels changes what the router learns from: fitted again, and saved next to the first.
    lines = (f'{{"id": "lab-new", "kind": "pairwise", "prompt": "Q?", "responses": [{{"text": "x"}}, {{"text": "y"}}], '
             f'"labels": [{{"annotator": "alice", "annotator_kind": "human", "winner": "B"}}, '
             f'{{"annotator": "judge-gpt", "annotator_kind": "judge", "winner": "A", "probability": 0.6}}]}}\n')
    import io

    data_import(project_slug="reuse", fmt="native", stream=io.BytesIO(lines.encode()), user=user)
    third = _run(project, policy="learned", budget_count=2)
    assert third["model"]["reused"] is False and third["model"]["training_items"] == 21 and len(fits) > fitted
    assert RoutingModel.objects.filter(project=project).count() == 2


class CountingEmbedder:
    """The real all-MiniLM embedder, counting the texts it is asked to encode."""

    cache_key = "MiniLMEmbedder"

    def __init__(self):
        self.inner = text_module.MiniLMEmbedder()
        self.encoded: list[int] = []

    def encode(self, texts):
        self.encoded.append(len(texts))
        return self.inner.encode(texts)


def test_embeddings_are_cached_by_content_hash_and_not_embedded_again(user, monkeypatch):
    counting = CountingEmbedder()
    monkeypatch.setattr(text_module, "_DEFAULT", counting)
    project = import_records(owner=user, slug="emb", records=ROUTABLE + [labelled(i) for i in range(12)])
    first = routing_run(project=project, policy="learned", budget_count=2, embeddings=True)
    # 18 items × 2 responses, of which the 6 ROUTABLE share the default pair: 2 + 24 distinct texts
    assert sum(counting.encoded) == first["embedded"] == 26 and EmbeddingCache.objects.count() == 26
    decisions = first["run_id"]
    second = routing_run(project=project, policy="learned", budget_count=2, embeddings=True)
    assert sum(counting.encoded) == 26  # the embedder was not called again
    assert second["embedded"] == 0 and second["embedding_cache_hits"] == 26  # distinct texts
    assert second["model"]["reused"] is True and second["run_id"] != decisions
    # a cached vector is the embedder's vector
    texts = ["Answer A number 3."]
    from annotation.services.embedding_cache import CachedEmbedder

    np.testing.assert_allclose(CachedEmbedder(counting).encode(texts), counting.inner.encode(texts), atol=1e-6)
    assert sum(counting.encoded) == 26
    import io

    data_import(project_slug="emb", fmt="native", user=user, stream=io.BytesIO(
        b'{"id": "more", "kind": "pairwise", "prompt": "Q?", "responses": [{"text": "brand new A"}, '
        b'{"text": "brand new B"}], "labels": []}\n'))
    third = routing_run(project=project, policy="rules", budget_count=2, embeddings=True)
    assert third["embedded"] == 2 and sum(counting.encoded) == 28  # only the new item's two texts


def test_the_route_command_prints_the_cross_fitted_gain_only(user):
    import_records(owner=user, slug="cmd", records=ROUTABLE + [labelled(i) for i in range(20)])
    out = StringIO()
    call_command("route", "cmd", "--policy", "learned", "--budget", "0.5", "--no-embeddings", stdout=out)
    text = out.getvalue()
    assert "cross-fitted gain on 20 items with known AI errors (10)" in text and "5 folds" in text
    assert "fitted and saved" in text and "predicted gain" not in text.lower()
    call_command("route", "cmd", "--policy", "learned", "--budget", "0.5", "--no-embeddings", stdout=out)
    assert "reused: same training rows" in out.getvalue()


def test_a_route_job_config_is_checked_when_the_job_is_started(user):
    """POST /api/jobs/ {"kind": "route"} and the page go through job_start: a bad config starts nothing."""
    from annotation.errors import PrefStudioError
    from training.models import Job, JobKind
    from training.services.jobs import job_start

    project = import_records(owner=user, slug="jobcfg", records=ROUTABLE)
    for config, field in (({"policy": "dice"}, "config.policy"), ({"budget_fraction": 2.0}, "config.budget_fraction"),
                          ({"budget_fraction": 0.5, "budget_count": 1}, "config"), ({"budget": 1}, "config.budget")):
        with pytest.raises(PrefStudioError) as caught:
            job_start(kind=JobKind.ROUTE, config=config, project=project, user=user)
        assert caught.value.field == field, (config, caught.value.field)
    assert not Job.objects.exists()
    job = job_start(kind=JobKind.ROUTE, config={"policy": "rules", "budget_count": 2}, project=project, user=user)
    assert job.kind == "route" and job.config["embeddings"] is True


def test_the_api_starts_a_route_job_that_a_worker_runs(user):
    """POST /api/jobs/ {"kind": "route"}: 201 with the queued job; a bad budget is a 400 naming the field; the job,
    run as a worker would, routes the items and keeps its report (cross-fitted gain included) as its artifacts."""
    from rest_framework.test import APIClient

    from annotation.services.accounts import api_token_get_or_create
    from training.models import Job
    from training.services.jobs import job_run

    import_records(owner=user, slug="api", records=ROUTABLE + [labelled(i) for i in range(20)])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_get_or_create(user=user)}")
    bad = client.post("/api/jobs/", {"kind": "route", "project": "api", "config": {"budget_fraction": 1.5}},
                      format="json")
    assert bad.status_code == 400 and bad.json()["field"] == "config.budget_fraction"
    response = client.post("/api/jobs/", {"kind": "route", "project": "api", "config": {
        "policy": "rules", "budget_fraction": 0.5, "embeddings": False}}, format="json")
    assert response.status_code == 201, response.json()
    job = Job.objects.get(pk=response.json()["id"])
    assert job.state == "queued" and not RoutingRun.objects.exists()
    assert job_run(job_id=job.pk, worker="test") == "succeeded"
    job.refresh_from_db()
    assert job.artifacts["human"] == 3 and job.artifacts["crossfit"]["caught"] == 10
    assert RoutingRun.objects.get().report["run_id"] == job.artifacts["run_id"]
