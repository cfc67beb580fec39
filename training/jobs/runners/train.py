"""The training jobs: one job kind per trainer of the TrainerSpec table (training/engine/trainers/registry.py).

Thin: load the job's dataset version rows (training.services.training), resolve the base model's directory,
run the engine (training/engine/trainers/) with output_dir = the job's artifact directory, write run.json, and
register the trained model as a ModelArtifact. A DPO job with `win_rate_judge_id` then judges the trained policy
against the base model on the first `win_rate_prompts` test-split prompts (engine/trainers/win_rate.py) and stores
the counts under "win_rate" in run.json and the job's artifacts. With more than one CUDA device the engine runs
under `accelerate launch` (training/engine/launch.py) and its reports come back through a file.

Re-runnable: a re-run after a lost worker calls the engine with the same output_dir, and the engine resumes
from its latest checkpoint there (the result's `resumed_from_step` says from which step); registration is
idempotent (one ModelArtifact per job).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from common.progress import Progress

from ...engine.trainers.registry import trainer_spec, trainer_specs
from ..registry import JobContext, JobType, register_source

RUN_FILE = "run.json"  # in the artifact dir: what was trained on, how, and the final metrics


def cuda_devices() -> int:
    """CUDA devices this worker sees (0 on a CPU machine)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def uses_lora(config: Any) -> bool:
    """Does the trainer config ask for a LoRA adapter (then a policy is registered as an ADAPTER)?"""
    return bool(getattr(config, "lora", False))


def train_run(kind: str, config: Any, progress: Progress, context: JobContext) -> dict[str, Any]:
    """Run one training job; returns the job's artifacts dict (see the module docstring)."""
    from annotation.errors import PrefStudioError

    from ...engine.launch import launch_spec_write, result_dict, run_launched, trainer_for
    from ...services.training import (
        dataset_version_noise_rate, training_base_location, training_config_hash, training_result_register,
        training_rows,
    )
    from ...services.win_rate import win_rate_judge_check

    version_id = context.dataset_version_id
    if version_id is None:
        raise PrefStudioError("a training job needs a dataset version", field="dataset_version")
    if config.base_model_id is None:
        raise PrefStudioError("a training job needs a base model (base_model_id)", field="config.base_model_id")
    row_kind = trainer_spec(kind).row_kind
    train_rows, test_rows = training_rows(dataset_version_id=version_id, kind=row_kind)
    model_path = training_base_location(model_id=config.base_model_id)
    noise_rate = dataset_version_noise_rate(dataset_version_id=version_id, kind=row_kind)
    output_dir = Path(context.artifact_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    progress.log(f"dataset version {version_id}: {len(train_rows)} train / {len(test_rows)} test {row_kind} "
                 f"rows; estimated noise rate {'unknown' if noise_rate is None else f'{noise_rate:.3f}'}")
    if context.attempt > 1:
        progress.log(f"run {context.attempt}: resuming from the latest checkpoint in {output_dir}, if any")
    wants_win_rate = getattr(config, "win_rate_judge_id", None) is not None  # a config with that field (DPO's)
    if wants_win_rate:
        win_rate_judge_check(model_id=config.win_rate_judge_id)
        if not test_rows:
            raise PrefStudioError("a win rate needs test-split rows in the dataset version",
                                  field="config.win_rate_judge_id")
    devices = cuda_devices()
    if devices > 1:
        spec = launch_spec_write(kind=kind, config=config, train_rows=train_rows, test_rows=test_rows,
                                 model_path=model_path, output_dir=output_dir, noise_rate=noise_rate)
        result = run_launched(spec_path=spec, num_processes=devices, progress=progress)
    else:
        _, train = trainer_for(kind)
        result = result_dict(train(config, train_rows=train_rows, test_rows=test_rows, model_path=model_path,
                                    output_dir=output_dir, progress=progress, noise_rate=noise_rate))
    config_hash = training_config_hash(config=config, dataset_version_id=version_id)
    artifact = training_result_register(
        job_id=context.job_id, kind=kind, dataset_version_id=version_id, config=config,
        model_dir=result["model_dir"], metrics=result["metrics"], lora=uses_lora(config),
        base_model_id=config.base_model_id,
    )
    run = {
        "dataset_version_id": version_id, "config_hash": config_hash, "metrics": result["metrics"],
        "resumed_from_step": result.get("resumed_from_step"), "steps": result.get("steps"),
        "noise_rate": noise_rate, "processes": max(devices, 1), "model_artifact_id": artifact.pk,
    }
    if wants_win_rate:
        run["win_rate"] = _win_rate(config, result["model_dir"], model_path, test_rows, progress)
    (output_dir / RUN_FILE).write_text(json.dumps(run, indent=2, default=str), encoding="utf-8")
    progress.update(1.0, f"trained: model {artifact.name} (id {artifact.pk})")
    return {**run, "model_dir": result["model_dir"], "model_artifact": artifact.name,
            "train_rows": len(train_rows), "test_rows": len(test_rows)}


def _win_rate(config: Any, policy_dir: str, reference_dir: str, test_rows: list[dict[str, Any]],
              progress: Progress) -> dict[str, Any]:
    """The trained policy vs the base model on the first `win_rate_prompts` test prompts (engine win_rate)."""
    from annotation.errors import PrefStudioError

    from ...engine.trainers.win_rate import held_out_prompts, win_rate
    from ...services.win_rate import win_rate_judge

    prompts = held_out_prompts(test_rows, config.win_rate_prompts)
    progress.update(0.95, f"win rate on {len(prompts)} held-out prompts")
    judge, name = win_rate_judge(model_id=config.win_rate_judge_id)
    try:
        return win_rate(policy_dir, reference_dir, prompts, judge, max_new_tokens=config.win_rate_max_new_tokens,
                        seed=config.seed, judge_name=name, progress=progress)
    except ValueError as exc:  # e.g. a LoRA adapter whose base is not the reference model
        raise PrefStudioError(f"win rate: {exc}", field="config.win_rate_judge_id") from exc


def _runner(kind: str) -> Any:
    def run(config: Any, progress: Progress, context: JobContext) -> dict[str, Any]:
        return train_run(kind, config, progress, context)

    run.__name__ = run.__qualname__ = f"run_{kind}"
    return run


@register_source
def trainer_job_types() -> list[JobType]:
    """A job kind for every trainer: its config class, on its queue, and needing a dataset version to train on."""
    return [JobType(spec.kind, spec.config_class, _runner(spec.kind), spec.queue, needs_dataset_version=True)
            for spec in trainer_specs()]
