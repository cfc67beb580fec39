"""Migration 0003_sec_blind: names that curation stored before issue 10 become annotator tokens."""
import importlib

import pytest
from django.apps import apps

from annotation.models import Annotator, DatasetRow, DatasetVersion, ItemFlag
from annotation.selectors.identities import annotator_names_for
from tests.annotation.review_data import item, review_project

migration = importlib.import_module("annotation.migrations.0003_sec_blind")
pytestmark = pytest.mark.django_db


def test_the_two_naming_shapes_are_tokenized_and_nothing_else():
    ids = {"ann": 1, "bob smith": 2, "gpt": 3}
    low = "the winner A rests on low-competence votes (ann 0.30, bob smith 0.45, eve 0.10; < 0.60): without them"
    assert migration.tokenized_reason(low, ids) == (
        "the winner A rests on low-competence votes ({annotator:1} 0.30, {annotator:2} 0.45, eve 0.10; < 0.60):"
        " without them")
    swap = "1 of 2 judge verdicts changed when the responses were swapped (gpt, llama)"
    assert migration.tokenized_reason(swap, ids).endswith("swapped ({annotator:3}, llama)")
    other = "annotators split 2–1 (agreement 0.67 < 0.75)"  # "ann" inside a word stays as it is
    assert migration.tokenized_reason(other, ids) == other


def test_stored_reasons_rows_and_competence_are_rewritten(user):
    project = review_project(owner=user)
    split = item(project, "split")
    alice = Annotator.objects.get(name="alice")
    legacy = "the winner A rests on low-competence votes (alice 0.30; < 0.60): without them it is not the majority"
    ItemFlag.objects.create(item=split, name="noise:low_competence", value=1.0, reason=legacy)
    version = DatasetVersion.objects.create(project=project, number=1, filter_config={}, config_hash="x",
                                            stats={"consensus": {"competence": {"alice": 0.3, "judge-gpt": 0.9}}})
    row = DatasetRow.objects.create(version=version, index=0, split="train", kind="pairwise", item=split, data={},
                                    provenance={"source": "human", "reasons": [legacy]})

    migration.forwards(apps, None)

    token = f"{{annotator:{alice.pk}}}"
    flag = ItemFlag.objects.get(item=split, name="noise:low_competence")
    row.refresh_from_db()
    version.refresh_from_db()
    assert "alice" not in flag.reason and token in flag.reason
    assert row.provenance["reasons"] == [flag.reason] and row.provenance["source"] == "human"
    judge = Annotator.objects.get(name="judge-gpt").pk
    assert version.stats["consensus"]["competence"] == {token: 0.3, f"{{annotator:{judge}}}": 0.9}
    owner_sees = annotator_names_for(project=project, user=user)
    assert owner_sees.render(flag.reason) == legacy  # the owner reads what was stored before
