"""A scripted LLMBackend for engine tests: answers decided by a Python function of the prompt text.

The real backends are tested for real in test_backends.py; the judging and generation logic is tested
here on answers worked out by hand.
"""
import math
from collections.abc import Callable

from training.engine.backends import Completion, Constraint

Script = Callable[[str], tuple[list[str], dict[str, float]]]


class ScriptedBackend:
    """`script(prompt_text) -> (outputs, logprobs)`: the texts to return (cycled to n) and log P per choice
    string (choices missing from the dict score -inf)."""

    name = "scripted"
    supports_json_schema = True

    def __init__(self, script: Script) -> None:
        self.script = script
        self.generate_calls: list[dict] = []
        self.score_calls: list[dict] = []

    def generate(self, prompts, *, n=1, temperature=1.0, top_p=1.0, max_tokens=256, seed=None, seeds=None,
                 constraint: Constraint | None = None):
        self.generate_calls.append({"prompts": prompts, "n": n, "seeds": seeds, "constraint": constraint,
                                    "temperature": temperature})
        out = []
        for messages in prompts:
            texts, _ = self.script(messages[-1]["content"])
            out.append([Completion(texts[i % len(texts)], 3, "stop") for i in range(n)])
        return out

    def score_choices(self, prompts, choices, *, prefix=""):
        self.score_calls.append({"prompts": prompts, "choices": choices, "prefix": prefix})
        rows = []
        for messages in prompts:
            _, logprobs = self.script(messages[-1]["content"])
            rows.append([logprobs.get(c, -math.inf) for c in choices])
        return rows

    def close(self) -> None:
        pass


def shown(prompt: str) -> tuple[str, str]:
    """(response shown as A, response shown as B) in a pairwise judge prompt of the default template."""
    a = prompt.split("[Response A]\n", 1)[1].split("\n\n[Response B]", 1)[0]
    b = prompt.split("[Response B]\n", 1)[1].split("\n\nAnswer with", 1)[0]
    return a, b


def log(p: float) -> float:
    return math.log(p) if p > 0 else -math.inf
