"""Score preference pairs with a trained reward model (a ModelArtifact of kind "reward").

Curation uses it to add trained reward models to its reward-model ensemble (annotation.services.curation):
the margin r(x, chosen) − r(x, rejected) of each pair, in the reward model's own logits.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from annotation.errors import PrefStudioError

from ..engine.judging.reward import REWARD_MAX_LENGTH
from ..models import ArtifactKind, Backend, ModelArtifact

__all__ = ["reward_margins", "reward_artifact"]


def reward_artifact(*, artifact_id: int, field: str = "reward_models") -> ModelArtifact:
    """The ModelArtifact `artifact_id`, which must be a local (backend hf) reward model whose folder exists.

    Raises PrefStudioError naming `field` otherwise.
    """
    artifact = ModelArtifact.objects.filter(pk=artifact_id).first()
    if artifact is None:
        raise PrefStudioError(f"{field}: no model {artifact_id}", field=field)
    if artifact.kind != ArtifactKind.REWARD:
        raise PrefStudioError(f"{field}: model {artifact.name!r} is a {artifact.get_kind_display().lower()}, "
                              "not a reward model", field=field)
    if artifact.backend != Backend.HF or not Path(artifact.location).is_dir():
        raise PrefStudioError(f"{field}: reward model {artifact.name!r} must be a local model folder (backend hf); "
                              f"{artifact.location!r} is not one", field=field)
    return artifact


def reward_margins(
    *,
    artifact_id: int,
    prompts: Sequence[list[dict]],
    chosen: Sequence[str],
    rejected: Sequence[str],
    max_length: int = REWARD_MAX_LENGTH,
    batch_size: int = 16,
) -> np.ndarray:
    """(P,) float64 margins r(prompt, chosen) − r(prompt, rejected) of P pairs, in the reward model's logits.

    prompts: P chat conversations (lists of {"role", "content"}); chosen, rejected: P response texts.
    Raises PrefStudioError(field="reward_models") for a missing, non-reward or non-local artifact, or one whose
    folder does not load as a sequence classifier, and for lists of different lengths.
    """
    if not len(prompts) == len(chosen) == len(rejected):
        raise PrefStudioError(f"reward_models: {len(prompts)} prompts, {len(chosen)} chosen and {len(rejected)} "
                              "rejected responses must be as many", field="reward_models")
    artifact = reward_artifact(artifact_id=artifact_id)
    if not prompts:
        return np.zeros(0)
    # torch and transformers only where a reward model is actually used
    from ..engine.trainers.evaluation import reward_scores
    from ..engine.trainers.reward import load_reward_model

    try:
        model, tokenizer = load_reward_model(artifact.location)
    except (OSError, ValueError) as exc:
        raise PrefStudioError(f"reward_models: reward model {artifact.name!r} does not load: {exc}",
                              field="reward_models") from exc
    n = len(prompts)
    # One pass over chosen then rejected responses: batches of equal-length prompts pad less.
    scores = reward_scores(model, tokenizer, list(prompts) * 2, list(chosen) + list(rejected),
                           max_length=max_length, batch_size=batch_size).double().numpy()
    return scores[:n] - scores[n:]
