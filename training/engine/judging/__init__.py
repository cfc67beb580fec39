"""LLM judges: parse verdicts, score them from log-probabilities, combine both orders, rank.

    verdicts   reading a judge's text (None for anything unreadable; never a guess)
    scoring    pure probability functions: P(A better), both orders, swap flag, ratings, checklists
    templates  the built-in prompt templates and their rendering
    config     JudgeConfig, the JUDGE job's config
    runner     Judge (one batch of items through a backend) and run_judge (all of them, with progress)
"""
from .config import JudgeConfig
from .runner import Judge, JudgeResult, JudgeTask, run_judge
from .scoring import CombinedVerdict, combine_orders, normalize_logprobs, p_first_better
from .verdicts import Verdict, parse_checklist, parse_rating, parse_verdict, parse_yes_no

__all__ = [
    "CombinedVerdict",
    "Judge",
    "JudgeConfig",
    "JudgeResult",
    "JudgeTask",
    "Verdict",
    "combine_orders",
    "normalize_logprobs",
    "p_first_better",
    "parse_checklist",
    "parse_rating",
    "parse_verdict",
    "parse_yes_no",
    "run_judge",
]
