"""The reward margins of a curation run's noise and strength signals: cross-fitted, from the best reward model the
project has (annotation/curation/rm_crossfit.py says how and why).

Which models: the ids the run names (CurationConfig.reward_models), else the project's default fine-tuned reward
model (the newest one a training job produced), asked of the training app through annotation/extensions.py; with
none, only the frozen-embedding heads. Each fine-tuned model scores only the decided pairs its training job did not
train on; the heads, cross-fitted, score the rest. The run's summary ("rm_margins") says which scored how many.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from common.progress import Progress

from .. import extensions
from ..curation.rm_crossfit import FineTuned, RMMargins, crossfit_margins
from ..curation.text import ItemTexts
from ..models import Item, Project

__all__ = ["MIN_RM_PAIRS", "rm_margins_for_items", "reward_models_for_run"]

# The heads need enough decided pairs to fit one per fold; below this their margins are noise themselves.
MIN_RM_PAIRS = 20


def reward_models_for_run(*, project: Project, named: list[int]) -> list[int]:
    """The models a run uses: those it names, else the project's default fine-tuned reward model (if any)."""
    if named:
        return named
    implementation = extensions.reward_models()
    if implementation is None:
        return []
    default = implementation.fine_tuned_default(project_id=project.pk)
    return [] if default is None else [default]


def _prompt_messages(*, project: Project, item_ids: np.ndarray) -> list[list[dict]]:
    found = dict(Item.objects.filter(project=project, pk__in=[int(pk) for pk in item_ids])
                 .values_list("pk", "prompt__messages"))
    return [list(found.get(int(pk)) or []) for pk in item_ids]


def _fine_tuned(*, project: Project, model_id: int, item_ids: np.ndarray, texts: ItemTexts, winner: np.ndarray,
                progress: Progress) -> FineTuned:
    """Model `model_id`'s margins winner − loser on the decided pairs it did not train on (NaN elsewhere)."""
    implementation = extensions.reward_models_required()
    known = implementation.trained_items(model_id=model_id)
    version_id, trained_ids = known if known is not None else (None, [])
    trained = np.isin(item_ids, np.asarray(trained_ids, dtype=np.int64))
    rows = np.flatnonzero(np.isin(winner, (0, 1)) & texts.has_pair() & ~trained)
    margins = np.full(len(winner), np.nan)
    progress.log(f"scoring {len(rows)} pairs with fine-tuned reward model {model_id} "
                 f"({int(trained.sum())} items it was trained on left to the cross-fitted heads)")
    if len(rows):
        w = winner[rows].astype(int)
        margins[rows] = implementation.margins(
            model_id=model_id, prompts=_prompt_messages(project=project, item_ids=item_ids[rows]),
            chosen=[texts.responses[i][k] for i, k in zip(rows, w)],
            rejected=[texts.responses[i][1 - k] for i, k in zip(rows, w)])
    return FineTuned(model_id=model_id, margins=margins, trained=trained, trained_on_version=version_id)


def rm_margins_for_items(*, project: Project, item_ids: np.ndarray, winner: np.ndarray, texts: ItemTexts | None,
                         embeddings: np.ndarray | None, reward_models: list[int],
                         progress: Progress) -> tuple[RMMargins | None, dict[str, Any]]:
    """The cross-fitted margins of the project's pairwise items (`item_ids` (I,), consensus `winner` (I,)) and the
    summary of which model scored what (RMMargins.summary(), "source" "none" when nothing did)."""
    decided = int(np.isin(winner, (0, 1)).sum())
    if embeddings is not None and decided < MIN_RM_PAIRS:
        progress.log(f"reward-model heads skipped: {decided} decided pairs, they need {MIN_RM_PAIRS}")
    fine = []
    for model_id in reward_models:
        progress.check_cancelled()
        fine.append(_fine_tuned(project=project, model_id=model_id, item_ids=item_ids, texts=texts, winner=winner,
                                progress=progress))
    result = crossfit_margins(winner, embeddings=embeddings, fine_tuned=fine, min_pairs=MIN_RM_PAIRS)
    if result is None:
        return None, {"source": "none", "fine_tuned_pairs": 0, "head_pairs": 0, "fine_tuned_models": [
            {"model_id": f.model_id, "trained_on_version": f.trained_on_version,
             "trained_pairs": int((f.trained & np.isin(winner, (0, 1))).sum()), "scored_pairs": 0} for f in fine]}
    summary = result.summary()
    progress.log(f"reward margins: {summary['fine_tuned_pairs']} pairs from fine-tuned models, "
                 f"{summary['head_pairs']} from {result.folds}-fold cross-fitted heads")
    return result, summary
