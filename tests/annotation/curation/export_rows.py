"""Hand-built dataset rows (the DatasetRow columns as the export selector yields them, plus the
external id of the source item) shared by the export tests. Plain data, no Django.

    index split kind      item
    0     train pairwise  pair-1   single-turn prompt, margin 0.5, weight 0.8, two reasons
    1     test  pairwise  pair-2   system + user prompt, margin null, weight 1
    2     train listwise  rank-1   C > A = B
    3     train pairwise  rank-1   a pair implied by the ranking (the same item again)
    4     train unpaired  thumb-1  thumbs up
"""
SYSTEM = {"role": "system", "content": "Be brief."}
ROWS = [
    {
        "index": 0, "split": "train", "kind": "pairwise", "item": "pair-1", "weight": 0.8,
        "data": {"prompt": [{"role": "user", "content": "Name a prime number."}], "chosen": "7 is prime.",
                 "rejected": "9 is prime.", "margin": 0.5},
        "provenance": {"item": "pair-1", "origin": "pairwise", "source": "hybrid", "votes": {"A": 1, "B": 1, "tie": 0},
                       "agreement": 0.5, "probability": 0.75, "noise_score": 0.4,
                       "reasons": ["annotators disagree", "judge disagrees with people"]},
    },
    {
        "index": 1, "split": "test", "kind": "pairwise", "item": "pair-2", "weight": 1.0,
        "data": {"prompt": [SYSTEM, {"role": "user", "content": "Say hi."}], "chosen": "Hi!",
                 "rejected": "Hello there.", "margin": None},
        "provenance": {"item": "pair-2", "origin": "pairwise", "source": "gold", "votes": {"A": 0, "B": 0, "tie": 0},
                       "agreement": None, "probability": 1.0, "noise_score": None, "reasons": []},
    },
    {
        "index": 2, "split": "train", "kind": "listwise", "item": "rank-1", "weight": 1.0,
        "data": {"prompt": [{"role": "user", "content": "Sort these answers."}],
                 "responses": ["first", "second", "third"], "ranking": [[2], [0, 1]]},
        "provenance": {"item": "rank-1", "origin": "listwise", "source": "human", "votes": {"0": [0, 1], "2": [1, 0]},
                       "agreement": 1.0, "probability": None, "noise_score": 0.1, "reasons": []},
    },
    {
        "index": 3, "split": "train", "kind": "pairwise", "item": "rank-1", "weight": 1.0,
        "data": {"prompt": [{"role": "user", "content": "Sort these answers."}], "chosen": "third",
                 "rejected": "first", "margin": None},
        "provenance": {"item": "rank-1", "origin": "listwise", "source": "human", "votes": {"0": [0, 1], "2": [1, 0]},
                       "agreement": 1.0, "probability": None, "noise_score": 0.1, "reasons": []},
    },
    {
        "index": 4, "split": "train", "kind": "unpaired", "item": "thumb-1", "weight": 1.0,
        "data": {"prompt": [{"role": "user", "content": "Is this helpful?"}], "completion": "Yes, here is how.",
                 "label": True},
        "provenance": {"item": "thumb-1", "origin": "thumbs", "source": "ai", "votes": {"up": 1, "down": 0},
                       "agreement": 1.0, "probability": 0.8, "noise_score": 0.0, "reasons": []},
    },
]
