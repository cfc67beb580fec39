"""A hand-built project for the review and dashboard tests, made through the real import service.

Which items need a person, worked out by hand:
    split        pairwise   people say A, B                          → disagreement "A ×1 · B ×1"
    agree        pairwise   people say A, A; a judge says B           → no (judges do not count)
    lonely       pairwise   one person                                → no
    rank-diff    listwise   [[0],[1],[2]] vs [[1],[0],[2]]            → disagreement
    rank-ties    listwise   [[0],[1,2]] vs [[0],[2,1]]                → no (the same tie, written twice)
    thumb-split  thumbs     up, down                                  → disagreement
    flagged      pairwise   no labels, an ItemFlag                    → flag
    gone         pairwise   people say A, B, but excluded             → no (decided)
"""
import io
import json

from annotation.models import Item, ItemFlag, ItemState, Project
from annotation.services.imports import data_import
from annotation.services.projects import project_create

PAIR = [{"text": "Paris is the capital of France.", "model": "m1"}, {"text": "Lyon, I think.", "model": "m2"}]
THREE = [{"text": "first"}, {"text": "second"}, {"text": "third"}]


def _human(name: str, **verdict) -> dict:
    return {"annotator": name, "annotator_kind": "human", **verdict}


RECORDS = [
    {
        "id": "split", "kind": "pairwise", "prompt": "What is the capital of France?", "responses": PAIR,
        "labels": [
            _human("alice", winner="A", strength=3, aspects={"honesty": "A"}, rationale="A is right.",
                   time_spent_ms=42_000, shown_order=[1, 0]),
            _human("bert", winner="B", strength=1, rationale="B is *shorter*.", time_spent_ms=8_000,
                   shown_order=[0, 1]),
            {"annotator": "judge-gpt", "annotator_kind": "judge", "winner": "A", "probability": 0.82,
             "swap_consistent": False, "rationale": "A names Paris."},
            {"annotator": "judge-panda", "annotator_kind": "judge", "unparsable": True,
             "raw_output": "<b>Winner</b>: maybe?"},
        ],
    },
    {
        "id": "agree", "kind": "pairwise", "prompt": "Capital of France, again?", "responses": PAIR,
        "labels": [_human("alice", winner="A", time_spent_ms=20_000), _human("bert", winner="A"),
                   {"annotator": "judge-gpt", "annotator_kind": "judge", "winner": "B", "probability": 0.3}],
    },
    {
        "id": "lonely", "kind": "pairwise", "prompt": "One opinion only.", "responses": PAIR,
        "labels": [_human("alice", winner="B", time_spent_ms=30_000)],
    },
    {
        "id": "rank-diff", "kind": "listwise", "prompt": "Rank these.", "responses": THREE,
        "labels": [_human("alice", ranking=[[0], [1], [2]]), _human("bert", ranking=[[1], [0], [2]])],
    },
    {
        "id": "rank-ties", "kind": "listwise", "prompt": "Rank these too.", "responses": THREE,
        "labels": [_human("alice", ranking=[[0], [1, 2]]), _human("bert", ranking=[[0], [2, 1]])],
    },
    {
        "id": "thumb-split", "kind": "thumbs", "prompt": "Is this helpful?", "responses": [{"text": "Maybe."}],
        "labels": [_human("alice", thumbs="up"), _human("bert", thumbs="down")],
    },
    {"id": "flagged", "kind": "pairwise", "prompt": "Two near copies.", "responses": PAIR},
    {
        "id": "gone", "kind": "pairwise", "prompt": "Excluded already.", "responses": PAIR,
        "labels": [_human("alice", winner="A"), _human("bert", winner="B")],
    },
]
IN_QUEUE = {"split", "rank-diff", "thumb-split", "flagged"}


def review_project(*, owner, slug: str = "rev", records: list[dict] | None = None, **settings) -> Project:
    """Project `slug` owned by `owner`, holding RECORDS (or `records`); `settings` go to project_create."""
    project_create(
        slug=slug, name="Review test", owner=owner, task_kinds=["pairwise", "listwise", "thumbs"], overlap=2,
        **settings,
    )
    lines = "".join(json.dumps(r) + "\n" for r in (RECORDS if records is None else records)).encode()
    data_import(project_slug=slug, fmt="native", stream=io.BytesIO(lines), user=owner)
    project = Project.objects.get(slug=slug)
    if records is None:
        # No service raises flags or excludes items yet (curation will); set them as curation would.
        flagged = Item.objects.get(project=project, external_id="flagged")
        ItemFlag.objects.create(item=flagged, name="near_duplicate", value=0.97, reason="responses are 97% identical")
        Item.objects.filter(project=project, external_id="gone").update(state=ItemState.EXCLUDED)
    return project


def item(project: Project, external_id: str) -> Item:
    return Item.objects.get(project=project, external_id=external_id)
