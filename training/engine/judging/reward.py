"""A trained reward model as a judge: each response gets the model's scalar reward r, and

    pairwise:  winner = the higher reward (tie when equal), P(A better) = sigmoid(r_A - r_B)  (Bradley-Terry)
    listwise:  ranking = responses by descending reward, equal rewards tied

A reward model scores each response on its own, so its verdict cannot change with the order the responses are
shown in: swap_consistent is always True. No Django: `RewardJudge.judge(tasks)` returns JudgeResults like the LLM
`Judge`, so `run_judge` and the judging service write them the same way.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .config import JudgeConfig
from .runner import JudgeResult, JudgeTask

__all__ = ["reward_verdict", "RewardJudge"]

REWARD_MAX_LENGTH = 512  # tokens of prompt + response the reward model reads (longer ones are truncated)


def reward_verdict(rewards: Sequence[float]) -> dict[str, Any]:
    """{"winner", "probability"} for two rewards (A = rewards[0]); {"ranking"} (tie groups, best first) for more."""
    if len(rewards) == 2:
        diff = float(rewards[0]) - float(rewards[1])
        winner = "A" if diff > 0 else "B" if diff < 0 else "tie"
        return {"winner": winner, "probability": 1.0 / (1.0 + math.exp(-diff))}
    groups: dict[float, list[int]] = {}
    for position, reward in enumerate(rewards):
        groups.setdefault(float(reward), []).append(position)
    return {"ranking": [groups[r] for r in sorted(groups, reverse=True)]}


class RewardJudge:
    """Judges with the reward model saved in `model_path` (a sequence classifier with one output)."""

    def __init__(self, model_path: str, config: JudgeConfig) -> None:
        from ..trainers.reward import load_reward_model  # torch and transformers: only where a judge runs

        self.config = config
        self.model_path = model_path
        self.model, self.tokenizer = load_reward_model(model_path)
        self.model.eval()

    def judge(self, tasks: Sequence[JudgeTask]) -> list[JudgeResult]:
        from ..trainers.evaluation import reward_scores

        prompts = [task.conversation for task in tasks for _ in task.responses]
        responses = [text for task in tasks for text in task.responses]
        scores = reward_scores(self.model, self.tokenizer, prompts, responses, max_length=REWARD_MAX_LENGTH,
                               batch_size=self.config.batch_size).tolist()
        results, start = [], 0
        for task in tasks:
            rewards = scores[start:start + len(task.responses)]
            start += len(task.responses)
            verdict = reward_verdict(rewards)
            results.append(JudgeResult(key=task.key, unparsable=False, swap_consistent=True,
                                       trace={"rewards": rewards, "reward_model": self.model_path}, **verdict))
        return results
