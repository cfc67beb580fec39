"""A hand-built project for the curation, dataset and routing tests, made through the real import service.

Pairwise items (majority aggregation, worked out by hand):
    agree     alice A, bert A, judge A (P(A) 0.9)        → A, agreement 1, hybrid
    split     alice A, bert B, carl B, judge B           → B, agreement 3/4, hybrid; humans 2/3 → disagreement
    ai-only   judge B (P(A) 0.2)                          → B, source ai
    tie       alice tie, bert tie                         → tie
    none      no labels                                   → no consensus
    dup       "Same answer." / "same answer!", alice A   → A; identical ignoring case/punctuation → near_duplicate
    disputed  alice A, bert B                             → a reviewer resolves it B (gold) in the tests
    excluded  alice A, but excluded                       → never in a dataset
Listwise  rank   alice [[2], [0], [1]], bert [[2], [1], [0]]  → C first
Edit      edit   alice edits "He go to school." → "He goes to school."
Thumbs    thumb  alice up, bert up, carl down             → up
"""
import io
import json

from annotation.models import Item, ItemState, Project
from annotation.services.imports import data_import

PAIR = [{"text": "Paris is the capital of France.", "model": "m1"}, {"text": "Lyon is, I believe.", "model": "m2"}]
JUDGE = "judge-gpt"


def human(name: str, **verdict) -> dict:
    return {"annotator": name, "annotator_kind": "human", **verdict}


def judge(winner: str, probability: float, swap: bool = True, name: str = JUDGE) -> dict:
    return {"annotator": name, "annotator_kind": "judge", "winner": winner, "probability": probability,
            "swap_consistent": swap}


def pair(eid: str, labels: list[dict], responses: list[dict] | None = None, prompt: str | None = None) -> dict:
    return {"id": eid, "kind": "pairwise", "prompt": prompt or f"Question {eid}?", "responses": responses or PAIR,
            "labels": labels}


RECORDS = [
    pair("agree", [human("alice", winner="A", strength=3), human("bert", winner="A", strength=2),
                   judge("A", 0.9)]),
    pair("split", [human("alice", winner="A"), human("bert", winner="B"), human("carl", winner="B"),
                   judge("B", 0.3)]),
    pair("ai-only", [judge("B", 0.2)]),
    pair("tie", [human("alice", winner="tie"), human("bert", winner="tie")]),
    pair("none", []),
    pair("dup", [human("alice", winner="A")], responses=[{"text": "Same answer."}, {"text": "same answer!"}]),
    pair("disputed", [human("alice", winner="A"), human("bert", winner="B")]),
    pair("excluded", [human("alice", winner="A")]),
    {"id": "rank", "kind": "listwise", "prompt": "Rank these.",
     "responses": [{"text": "first"}, {"text": "second"}, {"text": "third"}],
     "labels": [human("alice", ranking=[[2], [0], [1]]), human("bert", ranking=[[2], [1], [0]])]},
    {"id": "edit", "kind": "edit", "prompt": "Fix the grammar.", "responses": [{"text": "He go to school."}],
     "labels": [human("alice", edited_text="He goes to school.")]},
    {"id": "thumb", "kind": "thumbs", "prompt": "Is this helpful?", "responses": [{"text": "Yes, like this."}],
     "labels": [human("alice", thumbs="up"), human("bert", thumbs="up"), human("carl", thumbs="down")]},
]


def import_records(*, owner, slug: str, records: list[dict]) -> Project:
    stream = io.BytesIO("".join(json.dumps(r) + "\n" for r in records).encode())
    data_import(project_slug=slug, fmt="native", stream=stream, user=owner)
    return Project.objects.get(slug=slug)


def curation_project(*, owner) -> Project:
    project = import_records(owner=owner, slug="cur", records=RECORDS)
    Item.objects.filter(project=project, external_id="excluded").update(state=ItemState.EXCLUDED)
    return project


def item(project: Project, external_id: str) -> Item:
    return Item.objects.get(project=project, external_id=external_id)
