"""The judge of a DPO job's win rate (training.engine.trainers.win_rate): a ModelArtifact id to a loaded judge."""
from __future__ import annotations

from annotation.errors import PrefStudioError

from ..engine.judging import Judge, JudgeConfig
from ..engine.trainers.win_rate import PairJudge
from ..engine.backends.registry import backend_is_remote
from ..models import ArtifactKind, ModelArtifact
from .backends import backend_for

FIELD = "config.win_rate_judge_id"


def win_rate_judge_check(*, model_id: int) -> ModelArtifact:
    """The judge's artifact, checked before training starts (so a bad id fails fast, not after hours)."""
    artifact = ModelArtifact.objects.filter(pk=model_id).first()
    if artifact is None:
        raise PrefStudioError(f"no model {model_id} to judge the win rate", field=FIELD)
    if artifact.kind == ArtifactKind.REWARD and backend_is_remote(artifact.backend):
        raise PrefStudioError(f"reward model {artifact.name!r} must be a local model folder", field=FIELD)
    return artifact


def win_rate_judge(*, model_id: int) -> tuple[PairJudge, str]:
    """(judge, its name) for ModelArtifact `model_id`: a reward model judges by its rewards (the higher wins), any
    other model as an LLM judge in pairwise mode with the built-in template, greedy, verdicts from log-probs.

    Raises PrefStudioError naming config.win_rate_judge_id for a missing model or a reward model that is not a
    local folder."""
    artifact = win_rate_judge_check(model_id=model_id)
    config = JudgeConfig(model_id=artifact.pk, mode="pairwise")
    if artifact.kind == ArtifactKind.REWARD:
        from ..engine.judging.reward import RewardJudge

        return RewardJudge(artifact.location, config), f"{artifact.name}/reward"
    return Judge(backend_for(artifact), config), f"{artifact.name} [pairwise]"
