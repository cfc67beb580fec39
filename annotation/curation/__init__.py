"""Curation: turn raw human and AI labels into consensus, noise signals, routing decisions and dataset rows.

Plain Python (numpy / scipy and the libraries they are tested against): nothing here imports Django.
A selector (annotation/selectors/votes.py) builds the arrays of `votes.py`, the modules here compute, and a
service (annotation/services/curation.py) writes the results back.

    votes.py        the array containers every algorithm takes (PairwiseVotes, RankingVotes)
    agreement.py    raw agreement, Cohen / Fleiss kappa, Krippendorff alpha, Kendall tau, judge-vs-human
    aggregation/    majority, Dawid-Skene, MACE, Bradley-Terry / Plackett-Luce -> Consensus
    noise.py        per-item noise signals, each with a value and a reason, and the combined noise score
    text.py         text features: lengths, lexical overlap, embeddings (all-MiniLM), near-duplicates
    rm_ensemble.py  a small reward-model ensemble on the project's own labels (mean / spread of margins)
    routing.py      human-vs-AI routing under a budget: rules, learned gain model (HyPER-style), random
    dataset.py      filter config -> dataset rows (deterministic), listwise -> pairwise, edits, splits
    export.py       streaming writers: JSONL, Parquet, HF datasets (save_to_disk)
    shapes.py       row shapes shared by dataset.py and export.py (which rows the SQL line export renders as is)
"""
