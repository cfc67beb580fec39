"""Generation without a model: pairing rules on hand-built response lists, the config's checks, and the
sampling loop on a scripted backend (seeds, empty completions, batches, cancel)."""
from itertools import combinations

import pytest

from training.engine.generation import GenerationConfig, PromptTask, build_groups, run_generation, seed_for
from common.progress import Cancelled, MemoryProgress

from .fake_backend import ScriptedBackend


def test_all_pairs_are_every_pair_in_generation_order():
    assert build_groups(["r1", "r2", "r3"], pairing="all_pairs", seed=0, prompt_key=1) == [
        ("r1", "r2"), ("r1", "r3"), ("r2", "r3")]


def test_fewer_than_two_distinct_responses_make_no_item():
    for pairing in ("all_pairs", "random_pairs", "listwise_k"):
        assert build_groups(["r1", "r1"], pairing=pairing, seed=0, prompt_key=1) == []
    assert build_groups([], pairing="all_pairs", seed=0, prompt_key=1) == []


def test_random_pairs_are_distinct_pairs_and_repeat_with_the_seed():
    keys = [f"r{i}" for i in range(6)]
    first = build_groups(keys, pairing="random_pairs", seed=3, prompt_key=9, pairs_per_prompt=4)
    assert len(first) == 4 and len(set(first)) == 4
    assert set(first) <= set(combinations(keys, 2))
    assert build_groups(keys, pairing="random_pairs", seed=3, prompt_key=9, pairs_per_prompt=4) == first
    others = {tuple(build_groups(keys, pairing="random_pairs", seed=s, prompt_key=9, pairs_per_prompt=4))
              for s in range(10)}
    assert len(others) > 1  # the seed matters
    # More pairs asked for than exist: all of them.
    assert len(build_groups(keys[:3], pairing="random_pairs", seed=0, prompt_key=1, pairs_per_prompt=10)) == 3


def test_best_vs_worst_pairs_the_top_and_bottom_score_in_a_balanced_order():
    scores = {"r1": 5.0, "r2": 9.0, "r3": 2.0, "r4": 7.0}
    orders = set()
    for prompt in range(20):
        [group] = build_groups(list(scores), pairing="best_vs_worst", seed=0, prompt_key=prompt, scores=scores)
        assert set(group) == {"r2", "r3"}
        orders.add(group)
    assert orders == {("r2", "r3"), ("r3", "r2")}  # the better one is not always first


def test_best_vs_worst_makes_no_item_when_all_scores_are_equal_and_needs_every_score():
    assert build_groups(["a", "b"], pairing="best_vs_worst", seed=0, prompt_key=1, scores={"a": 3, "b": 3}) == []
    with pytest.raises(ValueError, match="score"):
        build_groups(["a", "b"], pairing="best_vs_worst", seed=0, prompt_key=1, scores={"a": 3})


def test_listwise_k_takes_k_responses_or_all_when_fewer():
    keys = [f"r{i}" for i in range(6)]
    [group] = build_groups(keys, pairing="listwise_k", seed=0, prompt_key=1, k=4)
    assert len(group) == 4 and len(set(group)) == 4 and set(group) <= set(keys)
    assert build_groups(keys[:3], pairing="listwise_k", seed=0, prompt_key=1, k=4) == [tuple(keys[:3])]


def test_unknown_pairing_is_refused():
    with pytest.raises(ValueError, match="pairing"):
        build_groups(["a", "b"], pairing="swiss", seed=0, prompt_key=1)


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"model_ids": []}, "model_ids"), ({"model_ids": [1, 1]}, "model_ids"), ({"n": 0}, "n"),
     ({"temperature": 0.0}, "temperature"), ({"top_p": 0.0}, "top_p"), ({"max_tokens": 0}, "max_tokens"),
     ({"prompts": "ids"}, "prompt_ids"), ({"prompts": "metadata"}, "metadata"), ({"k": 1}, "k"),
     ({"k": 17}, "k"), ({"pairing": "best_vs_worst"}, "scorer_model_id"), ({"limit": 0}, "limit"),
     ({"n": 1}, "n x number of models")],
)
def test_generation_config_refuses_bad_values(changes, field):
    with pytest.raises(ValueError, match=field):
        GenerationConfig(**{"model_ids": [1], "n": 2, **changes})


def test_greedy_is_allowed_with_one_sample_per_model_and_two_models():
    GenerationConfig(model_ids=[1, 2], n=1, temperature=0.0)


def echo_backend(prefix: str) -> ScriptedBackend:
    return ScriptedBackend(lambda prompt: ([f"{prefix} {prompt} #1", "   ", f"{prefix} {prompt} #2"], {}))


def test_run_generation_samples_each_model_writes_batches_and_drops_empty_text():
    prompts = [PromptTask(k, [{"role": "user", "content": f"q{k}"}]) for k in (10, 11, 12)]
    backends = {1: echo_backend("m1"), 2: echo_backend("m2")}
    loaded = []

    def loader(model_id):
        def load():
            loaded.append(model_id)
            return backends[model_id]
        return load

    config = GenerationConfig(model_ids=[1, 2], n=3, batch_size=2, seed=4)
    batches = []
    progress = MemoryProgress()
    stats = run_generation({1: loader(1), 2: loader(2)}, prompts, config, progress=progress, write=batches.append)
    assert loaded == [1, 2]  # one model after the other, each loaded once
    assert [len(b) for b in batches] == [4, 2, 4, 2]  # 2 and 1 prompts per batch, 2 non-empty samples each
    first = batches[0][0]
    assert (first.prompt_key, first.model_id, first.text, first.sample_index) == (10, 1, "m1 q10 #1", 0)
    assert first.seed == seed_for(4, 10, 1)
    assert stats["responses"] == 12 and stats["empty"] == 6
    assert backends[1].generate_calls[0]["seeds"] == [seed_for(4, 10, 1), seed_for(4, 11, 1)]
    assert progress.fractions[-1] == pytest.approx(0.9)  # the rest is item building (the service)


def test_run_generation_stops_at_cancel_between_batches():
    prompts = [PromptTask(k, [{"role": "user", "content": "q"}]) for k in range(4)]
    written = []
    with pytest.raises(Cancelled):
        run_generation({1: lambda: echo_backend("m")}, prompts, GenerationConfig(model_ids=[1], batch_size=2),
                       progress=MemoryProgress(cancel_at_check=2), write=written.append)
    assert len(written) == 1


def test_tokens_per_s_counts_engine_time_not_model_loading():
    """A model that takes 100 s to load and 2 s per batch generates at tokens / 4 s, not tokens / 104 s."""
    now = [0.0]
    backend = echo_backend("m")  # 2 non-empty completions of 3 tokens per prompt

    def generate(*args, **kwargs):
        now[0] += 2.0
        return ScriptedBackend.generate(backend, *args, **kwargs)

    def load():
        now[0] += 100.0
        return backend

    backend.generate = generate
    prompts = [PromptTask(k, [{"role": "user", "content": "q"}]) for k in range(4)]
    progress = MemoryProgress()
    stats = run_generation({1: load}, prompts, GenerationConfig(model_ids=[1], n=3, batch_size=2),
                           progress=progress, write=lambda made: None, clock=lambda: now[0])
    assert stats["tokens"] == 4 * 2 * 3
    assert (stats["load_seconds"], stats["generate_seconds"], stats["seconds"]) == (100.0, 4.0, 104.0)
    assert stats["tokens_per_s"] == 24 / 4.0
    assert [m["tokens_per_s"] for m in progress.metrics] == [12 / 2.0, 24 / 4.0]
