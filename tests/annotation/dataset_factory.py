"""A hand-built dataset version for the export tests: DatasetVersion + DatasetRow written directly
(the curation service that freezes versions is tested on its own), over the real items of the
`project` fixture ("kinds", tests/annotation/conftest.py) so that raw votes have real labels.
The rows are tests/annotation/curation/export_rows.py.
"""
import io
import json

from annotation.models import DatasetRow, DatasetVersion, Item, Project
from annotation.services.imports import data_import
from tests.annotation.curation.export_rows import ROWS

# Labels added to pair-1 beside annotator1's "A, strength 2": a judge that disagrees, with a rationale,
# and one whose output could not be parsed.
EXTRA_LABELS = {
    "id": "pair-1", "kind": "pairwise", "prompt": "Name a prime number.",
    "responses": [{"text": "7 is prime.", "model": "m1"}, {"text": "9 is prime.", "model": "m2"}],
    "labels": [
        {"annotator": "judge-1", "annotator_kind": "judge", "winner": "B", "probability": 0.25,
         "rationale": "B is shorter.", "swap_consistent": False},
        {"annotator": "judge-2", "annotator_kind": "judge", "unparsable": True, "raw_output": "garbage"},
    ],
}


def add_judge_labels(project: Project) -> None:
    data_import(project_slug=project.slug, fmt="native", stream=io.BytesIO(json.dumps(EXTRA_LABELS).encode() + b"\n"))


def make_version(project: Project, *, rows: list[dict] = ROWS, number: int = 1) -> DatasetVersion:
    """A frozen version of `project` with `rows` (item external ids resolved to the project's items)."""
    items = {item.external_id: item for item in Item.objects.filter(project=project)}
    version = DatasetVersion.objects.create(
        project=project, number=number, name=f"v{number}", filter_config={"seed": 7, "drop": ["duplicate"]},
        config_hash="c0ffee", stats={"kept": len(rows), "dropped": {"duplicate": 1}}, n_rows=len(rows),
    )
    DatasetRow.objects.bulk_create(
        DatasetRow(version=version, index=r["index"], split=r["split"], kind=r["kind"], item=items.get(r["item"]),
                   data=r["data"], weight=r["weight"], provenance=r["provenance"])
        for r in rows
    )
    return version


def many_rows(n: int) -> list[dict]:
    """`n` pairwise train rows over item pair-1 (for chunking tests), indexes 0..n-1."""
    return [{**ROWS[0], "index": i, "data": {**ROWS[0]["data"], "chosen": f"chosen {i}"}} for i in range(n)]


def pairwise_project(*, slug: str, n_items: int, overlap: int) -> Project:
    """A project of `n_items` pairwise items without labels (imported as a user would), at `overlap`: what the
    queue tests label."""
    lines = [
        json.dumps({"id": f"i{i}", "kind": "pairwise", "prompt": f"question {i}",
                    "responses": [{"text": f"answer {i} a"}, {"text": f"answer {i} b"}]})
        for i in range(n_items)
    ]
    data_import(project_slug=slug, fmt="native", stream=io.BytesIO("\n".join(lines).encode()))
    Project.objects.filter(slug=slug).update(overlap=overlap)
    return Project.objects.get(slug=slug)
