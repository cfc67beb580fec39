"""The `evaluate` job's use case: resolve the models of an EvaluateConfig, read the version's held-out rows, run the
engine (training/engine/trainers/heldout.py) and return the job's result: the model's numbers next to the baselines'.

Result (the Job's artifacts): {"model": name, "model_kind": "reward" | "policy", "reference": name or None,
"rows": test rows scored, "evaluation": {"model": metrics, "baselines": {name: metrics}}, "win_rate": ... or absent}.
A baseline's metrics have the same keys as the model's where they apply (accuracy, n); the job page puts them side
by side (training/result_selectors.py).
"""
from __future__ import annotations

from typing import Any

from annotation.errors import PrefStudioError
from common.progress import Progress

from ..engine.trainers.heldout import EvaluateConfig
from ..engine.backends.registry import backend_entry, backend_is_remote
from ..models import ArtifactKind, Job, ModelArtifact

__all__ = ["evaluation_run", "evaluation_models"]

DEFAULT_BETA = 0.1  # TRL's DPO default, used when neither the config nor the training job says otherwise
CHANCE = {"n": None, "accuracy": 0.5}


def _local(model_id: int, field: str, what: str) -> ModelArtifact:
    artifact = ModelArtifact.objects.filter(pk=model_id).first()
    if artifact is None:
        raise PrefStudioError(f"no model {model_id} ({what})", field=field)
    if backend_is_remote(artifact.backend):
        raise PrefStudioError(f"model {artifact.name!r} is served by a remote server (backend {artifact.backend}: "
                              f"{backend_entry(artifact.backend).label}): evaluating it needs local weights",
                              field=field)
    return artifact


def evaluation_models(*, config: EvaluateConfig) -> tuple[ModelArtifact, ModelArtifact | None, ModelArtifact | None]:
    """(model, baseline reward model or None, reference policy or None), checked; PrefStudioError naming the field."""
    model = _local(config.model_id, "config.model_id", "the model to evaluate")
    if model.kind == ArtifactKind.REWARD:
        baseline = None
        if config.baseline_model_id is not None:
            baseline = _local(config.baseline_model_id, "config.baseline_model_id", "the baseline")
            if baseline.kind != ArtifactKind.REWARD:
                raise PrefStudioError(f"the baseline of a reward model must be a reward model; {baseline.name!r} "
                                      "is not", field="config.baseline_model_id")
        if config.win_rate_judge_id is not None:
            raise PrefStudioError("a win rate compares policies; a reward model does not answer prompts",
                                  field="config.win_rate_judge_id")
        return model, baseline, None
    reference_id = config.reference_model_id or (model.settings or {}).get("base_model_id")
    if reference_id is None:
        raise PrefStudioError(f"model {model.name!r} names no base model: choose the reference model",
                              field="config.reference_model_id")
    reference = _local(int(reference_id), "config.reference_model_id", "the reference")
    if reference.kind != ArtifactKind.BASE:
        raise PrefStudioError(f"the reference must be a base model; {reference.name!r} is a {reference.kind} model",
                              field="config.reference_model_id")
    return model, None, reference


def _beta(config: EvaluateConfig, model: ModelArtifact) -> float:
    if config.beta is not None:
        return config.beta
    job = Job.objects.filter(pk=(model.settings or {}).get("job")).only("config").first()
    beta = (job.config or {}).get("beta") if job is not None else None
    return float(beta) if isinstance(beta, (int, float)) and beta > 0 else DEFAULT_BETA


def evaluation_run(*, dataset_version_id: int | None, config: EvaluateConfig, progress: Progress) -> dict[str, Any]:
    """Evaluate config.model_id on the version's first `max_rows` test-split pairwise rows; see the module docstring.

    Raises PrefStudioError for a missing version, a version without test rows, or unusable models."""
    from ..engine.trainers.data import pairwise_rows
    from ..engine.trainers.heldout import evaluate_policy_dir, evaluate_reward_dir, length_baseline
    from .training import training_rows

    if dataset_version_id is None:
        raise PrefStudioError("an evaluate job needs a dataset version", field="dataset_version")
    model, baseline_rm, reference = evaluation_models(config=config)
    _, test_rows = training_rows(dataset_version_id=dataset_version_id, kind="pairwise")
    if not test_rows:
        raise PrefStudioError(f"dataset version {dataset_version_id} has no pairwise rows in its test split: "
                              "nothing held out to evaluate on", field="dataset_version")
    rows = pairwise_rows(test_rows[: config.max_rows])
    progress.log(f"evaluating {model.name} on {len(rows)} held-out pairs of dataset version {dataset_version_id}")
    baselines: dict[str, Any] = {"longer response wins": length_baseline(rows), "chance": CHANCE}
    result: dict[str, Any] = {"model": model.name, "rows": len(rows), "reference": None}
    if model.kind == ArtifactKind.REWARD:
        result["model_kind"] = "reward"
        progress.update(0.1, f"scoring with reward model {model.name}")
        metrics = evaluate_reward_dir(model.location, rows, max_length=config.max_length)
        progress.check_cancelled()
        if baseline_rm is not None:
            progress.update(0.55, f"scoring with baseline reward model {baseline_rm.name}")
            baselines[baseline_rm.name] = evaluate_reward_dir(baseline_rm.location, rows, max_length=config.max_length)
    else:
        result["model_kind"] = "policy"
        result["reference"] = reference.name
        beta = _beta(config, model)
        result["beta"] = beta
        progress.update(0.1, f"implicit rewards of {model.name} against {reference.name}")
        metrics = evaluate_policy_dir(model.location, reference.location, rows, beta=beta,
                                      max_length=config.max_length)
        # The reference against itself: r = 0 on every pair, so no pair is ranked right.
        baselines[f"{reference.name} (reference)"] = {"n": len(rows), "accuracy": 0.0, "mean_margin": 0.0}
        progress.check_cancelled()
        if config.win_rate_judge_id is not None:
            result["win_rate"] = _win_rate(config, model, reference, test_rows, progress)
    result["evaluation"] = {"model": metrics, "baselines": baselines}
    progress.update(1.0, f"evaluated {model.name}: accuracy {metrics.get('accuracy', float('nan')):.3f} on "
                         f"{metrics.get('n', 0)} held-out pairs")
    return result


def _win_rate(config: EvaluateConfig, model: ModelArtifact, reference: ModelArtifact, test_rows: list[dict[str, Any]],
              progress: Progress) -> dict[str, Any]:
    from ..engine.trainers.win_rate import held_out_prompts, win_rate
    from .win_rate import win_rate_judge

    prompts = held_out_prompts(test_rows, config.win_rate_prompts)
    progress.update(0.6, f"win rate on {len(prompts)} held-out prompts")
    judge, name = win_rate_judge(model_id=config.win_rate_judge_id)
    try:
        return win_rate(model.location, reference.location, prompts, judge,
                        max_new_tokens=config.win_rate_max_new_tokens, seed=config.seed, judge_name=name,
                        progress=progress)
    except ValueError as exc:  # e.g. a LoRA adapter whose base is not the reference model
        raise PrefStudioError(f"win rate: {exc}", field="config.win_rate_judge_id") from exc
