"""Fixtures for the trainer tests: the session's tiny Llama (tests/training/tiny_model.py) and small row sets.

Train rows are all labelled by humans; test rows by "ai" and "gold" with known noise scores, so a metric that
counts or groups anything but the test rows shows up in the assertions.
"""
import pytest

from ...llm_fixtures import tiny_model_dir  # noqa: F401  (session fixture, used by name)

PROMPTS = ["Name a prime number.", "What is the capital of France?", "Say hello."]
GOOD = ["7 is prime.", "Paris is the capital of France.", "Hello there! How are you today?"]
BAD = ["9 is not prime.", "The answer is 10.", "no"]


def _prompt(i):
    return [{"role": "user", "content": PROMPTS[i % 3]}]


@pytest.fixture
def pair_rows():
    """(train, test): 16 human pairs (weights 0.5 / 1.5, margins on half) and 6 ai/gold pairs."""
    train = [{"prompt": _prompt(i), "chosen": GOOD[i % 3], "rejected": BAD[i % 3], "margin": 0.5 if i % 2 else None,
              "weight": 0.5 + (i % 2), "split": "train", "source": "human", "noise_score": 0.1} for i in range(16)]
    test = [{"prompt": _prompt(i), "chosen": GOOD[i % 3], "rejected": BAD[i % 3], "margin": None, "weight": 1.0,
             "split": "test", "source": "ai" if i < 4 else "gold", "noise_score": [0.05, 0.3, 0.7, None][i % 4]}
            for i in range(6)]
    return train, test


@pytest.fixture
def list_rows():
    """(train, test): 8 and 3 lists of the three responses per prompt, good > bad > unrelated (one tie list)."""
    def row(i, split):
        ranking = [[0], [1, 2]] if i % 4 == 3 else [[0], [1], [2]]
        return {"prompt": _prompt(i), "responses": [GOOD[i % 3], BAD[i % 3], "tie."], "ranking": ranking,
                "weight": 1.0 + (i % 2), "split": split, "source": "human" if split == "train" else "gold"}
    return [row(i, "train") for i in range(8)], [row(i, "test") for i in range(3)]


@pytest.fixture
def thumbs_rows():
    """(train, test): 8 and 4 thumbs rows, up for the good response and down for the bad one."""
    def row(i, split):
        return {"prompt": _prompt(i), "completion": GOOD[i % 3] if i % 2 else BAD[i % 3], "label": bool(i % 2),
                "split": split, "source": "human"}
    return [row(i, "train") for i in range(8)], [row(i, "test") for i in range(4)]
