"""The dataset converters (scripts/convert/) on the real public files, imported through data_import."""
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from annotation.models import AnnotatorKind, Item, Label, LabelStatus, Response, ResponseOrigin
from annotation.services.imports import data_import
from scripts.convert import lamp, pandalm, pandalm_thumbs, qa_feedback
from scripts.convert._common import Skips, write_jsonl

ROOT = Path(__file__).resolve().parents[2]


def _import(records, tmp_path: Path, slug: str):
    path = tmp_path / f"{slug}.jsonl"
    write_jsonl(records, path)
    with open(path, "rb") as stream:
        return data_import(project_slug=slug, fmt="native", stream=stream)


def _winners(item: Item) -> dict[str, str]:
    return {label.annotator.name: label.winner for label in item.labels.select_related("annotator")}


# --- PandaLM ------------------------------------------------------------------------------------

def test_pandalm_source_facts(datasets):
    """The joined source: 999 pairs, 879 unanimous; GPT-3.5 agrees with the human majority on ~71%
    of the pairs it answered, PandaLM-7B on ~67% of all pairs."""
    rows = list(pandalm.joined(datasets / "pandalm"))
    assert len(rows) == 999
    votes = [[pair[h] for h in pandalm.HUMANS] for pair, _, _ in rows]
    assert sum(len(set(v)) == 1 for v in votes) == 879
    majority = [Counter(v).most_common(1)[0][0] for v in votes]  # 3 voters, 3 classes: 999 have a majority
    gpt_code = {"1": 1, "2": 2, "Tie": 0}
    answered = [(m, gpt_code[g["gpt_result"]]) for m, (_, g, _) in zip(majority, rows) if g["gpt_result"] in gpt_code]
    assert len(answered) == 999 - 25  # 25 "garbage" outputs
    assert sum(m == g for m, g in answered) / len(answered) == pytest.approx(0.716, abs=0.005)
    assert sum(m == p["pandalm_result"] for m, (_, _, p) in zip(majority, rows)) / 999 == pytest.approx(0.668, abs=0.005)


@pytest.mark.django_db
def test_pandalm_import_has_three_humans_and_two_judges_per_pair(datasets, tmp_path):
    """Every pair with two non-empty responses becomes an item with 3 human and 2 judge labels."""
    skips = Skips()
    report = _import(pandalm.convert(datasets / "pandalm", skips=skips), tmp_path, "pandalm")
    # 54 pairs have an empty response (PrefStudio stores none); 6 `true` responses become "True".
    assert skips.skipped == {"a response is empty": 54} and skips.repaired.total() == 6
    assert report.items_created == 945 and report.labels_created == 945 * 5
    assert set(Item.objects.values_list("n_human_labels", "n_judge_labels")) == {(3, 2)}
    kinds = dict(Label.objects.values_list("annotator__name", "annotator__kind").distinct())
    assert kinds == {
        "pandalm-annotator1": AnnotatorKind.HUMAN, "pandalm-annotator2": AnnotatorKind.HUMAN,
        "pandalm-annotator3": AnnotatorKind.HUMAN, "gpt-3.5-turbo": AnnotatorKind.JUDGE,
        "pandalm-7b": AnnotatorKind.JUDGE,
    }
    first = Item.objects.get(external_id="pandalm-0")
    assert [s.response.model_name for s in first.slots.select_related("response")] == ["bloom-7b", "llama-7b"]
    assert _winners(first) == {  # worked out by hand from idx 0 of the three files
        "pandalm-annotator1": "B", "pandalm-annotator2": "B", "pandalm-annotator3": "B",
        "gpt-3.5-turbo": "A", "pandalm-7b": "B",
    }
    assert first.labels.get(annotator__name="gpt-3.5-turbo").rationale.startswith("Response 1 is better")
    assert Response.objects.filter(text="True").exists()


@pytest.mark.django_db
def test_pandalm_thumbs_carry_each_annotators_preference(datasets, tmp_path):
    """Each response of a pair is a thumbs item: up from those who preferred it, down from those who did not;
    a tie gives no label (idx 0: all three chose B, so A has three downs and B three ups)."""
    skips = Skips()
    records = list(pandalm_thumbs.convert(datasets / "pandalm", limit=20, skips=skips))
    report = _import(records, tmp_path, "thumbs")
    assert report.items_created == len(records) and all(r["kind"] == "thumbs" for r in records)
    a, b = Item.objects.get(external_id="pandalm-0-A"), Item.objects.get(external_id="pandalm-0-B")
    assert sorted(a.labels.values_list("thumbs_up", flat=True)) == [False, False, False]
    assert sorted(b.labels.values_list("thumbs_up", flat=True)) == [True, True, True]
    for pair in pandalm.convert(datasets / "pandalm", limit=20):
        ups = {r["id"][-1]: [lab["thumbs"] for lab in r["labels"]] for r in records if r["id"].startswith(pair["id"] + "-")}
        chose = [lab["winner"] for lab in pair["labels"] if lab["annotator_kind"] == "human" and lab["winner"] in "AB"]
        if ups:
            assert ups["A"].count("up") == chose.count("A") and ups["B"].count("up") == chose.count("B")


@pytest.mark.django_db
def test_pandalm_garbage_is_an_unparsable_judge_label_and_unanimity_survives(datasets, tmp_path):
    """'garbage' GPT outputs import as unparsable labels with the raw output; the labels keep the
    source's unanimous pairs (879 of 999, less those dropped for an empty response)."""
    _import(pandalm.convert(datasets / "pandalm"), tmp_path, "pandalm")
    imported = set(Item.objects.values_list("metadata__idx", flat=True))
    rows = {pair["idx"]: (pair, gpt) for pair, gpt, _ in pandalm.joined(datasets / "pandalm")}
    garbage = {idx for idx, (_, gpt) in rows.items() if gpt["gpt_result"] == "garbage"}
    unparsable = Label.objects.filter(status=LabelStatus.UNPARSABLE)
    assert set(unparsable.values_list("annotator__name", flat=True)) == {"gpt-3.5-turbo"}
    assert unparsable.count() == len(garbage & imported) > 0
    assert all(json.loads(raw)["gpt_result"] == "garbage" for raw in unparsable.values_list("raw_output", flat=True))
    assert set(unparsable.values_list("winner", flat=True)) == {""}

    human = Label.objects.filter(annotator__kind=AnnotatorKind.HUMAN)
    per_item = Counter()
    for item_id, winner in human.values_list("item_id", "winner"):
        per_item[(item_id, winner)] += 1
    unanimous_imported = sum(1 for n in per_item.values() if n == 3)
    unanimous_dropped = sum(
        1 for idx, (pair, _) in rows.items()
        if idx not in imported and len({pair[h] for h in pandalm.HUMANS}) == 1
    )
    assert unanimous_imported + unanimous_dropped == 879


# --- QA-Feedback --------------------------------------------------------------------------------

def test_copeland_ranking_on_hand_worked_cases():
    """Wins minus losses over the 6 pairs (1v2, 1v3, 1v4, 2v3, 2v4, 3v4); equal scores tie."""
    assert qa_feedback.copeland_ranking([0, 1, 2, 1, 0, 2]) == ([[3], [1], [0], [2]], [0, 1, -3, 2])
    assert qa_feedback.copeland_ranking([0] * 6) == ([[0, 1, 2, 3]], [0, 0, 0, 0])
    # A cycle 1 > 2 > 3 > 1 above a 4 that loses to everyone: the three tie at the top.
    assert qa_feedback.copeland_ranking([1, 2, 1, 1, 1, 1]) == ([[0, 1, 2], [3]], [1, 1, 1, -3])


@pytest.mark.django_db
def test_qa_feedback_listwise_and_edit_items(datasets, tmp_path):
    """500 questions → 500 listwise items (Copeland ranking, raw judgments kept) and 487 edit items
    (13 records have no correction; 481 of the edits change the text, 6 keep it)."""
    skips = Skips()
    report = _import(qa_feedback.convert(datasets / "qa_feedback", skips=skips), tmp_path, "qa")
    assert skips.skipped == {"no corrected prediction (no edit item)": 13}
    assert report.items_created == 987 and report.labels_created == 987
    listwise = Item.objects.filter(kind="listwise")
    assert listwise.count() == 500 and set(listwise.values_list("n_responses", flat=True)) == {4}
    ties = sum(list(m["pairwise"].values()).count(0) for m in listwise.values_list("metadata", flat=True))
    assert ties == 384  # of the 3,000 pairwise judgments
    first = listwise.get(external_id="qa-feedback-dev-0-rank")
    label = first.labels.select_related("annotator").get()
    assert label.annotator.name == "qa-feedback-annotator" and label.annotator.kind == AnnotatorKind.HUMAN
    assert label.ranking == [[3], [1], [0], [2]]
    assert first.metadata["pairwise"] == {"1v2": 0, "1v3": 1, "1v4": 2, "2v3": 1, "2v4": 0, "3v4": 2}
    assert [m["role"] for m in first.prompt.messages] == ["system", "user"]
    assert first.prompt.messages[1]["content"] == "When does bloom by troye sivan come out?"
    assert first.prompt.messages[0]["content"].startswith("Passages:\n\n[1] Bloom (Troye Sivan album)\n")

    edits = Item.objects.filter(kind="edit")
    assert edits.count() == 487
    edited = Response.objects.filter(origin=ResponseOrigin.HUMAN_EDIT).select_related("parent")
    assert edited.count() == 487
    assert sum(r.text != r.parent.text for r in edited) == 481
    # The edit item shows prediction 1 of the listwise item: one response row, shared.
    edit = edits.get(external_id="qa-feedback-dev-0-edit")
    assert edit.prompt_id == first.prompt_id
    assert edit.slots.get().response_id == first.slots.get(position=0).response_id


# --- LAMP ---------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_lamp_rankings_by_named_annotators_and_writer_edits(datasets, tmp_path):
    """603 rankings → listwise items with one ranking per named annotator; the human-edited text is
    ranked first in 393 of them. 200 edits → edit items labeled by the writer and the LLM editor."""
    skips = Skips()
    _import(lamp.convert(datasets / "lamp", skips=skips), tmp_path, "lamp")
    assert skips.total == 0
    source_text = (datasets / "lamp" / "lamp_preference_rankings.jsonl").read_text(encoding="utf-8")
    source = [json.loads(line) for line in source_text.splitlines() if line.strip()]
    rankings = Label.objects.filter(kind="listwise").select_related("annotator")
    assert rankings.count() == 603
    assert Counter(label.annotator.name for label in rankings) == Counter(f"lamp-{r['annotator']}" for r in source)
    assert {label.annotator.kind for label in rankings} == {AnnotatorKind.HUMAN}
    human_edited = lamp.CONDITIONS.index("Human-edited")
    assert sum(label.ranking[0] == [human_edited] for label in rankings) == 393
    # 200 paragraphs; 5 of them were shown to some annotators with slightly different texts.
    assert Item.objects.filter(kind="listwise").count() == 205

    first = source[0]  # cgreer saw Response 1 = AI-generated, 2 = Human-edited, 3 = AI-edited
    label = rankings.get(item__external_id=f"lamp-rank-{first['id']}", annotator__name="lamp-cgreer")
    assert label.ranking == [[1], [0], [2]] and label.shown_order == [0, 1, 2]
    item = label.item
    texts = [s.response.text for s in item.slots.select_related("response")]
    assert texts == [first["responses"][c] for c in lamp.CONDITIONS]

    edits = Label.objects.filter(kind="edit").select_related("annotator", "edited_response")
    assert Item.objects.filter(kind="edit").count() == 200 and edits.count() == 400
    assert edits.filter(annotator__name="lamp-ai-editor", annotator__kind=AnnotatorKind.JUDGE).count() == 200
    gene = edits.get(item__external_id="lamp-edit-gene_batch1_19", annotator__kind=AnnotatorKind.HUMAN)
    assert gene.annotator.name == "lamp-gene"
    assert gene.edited_response.text.startswith("The politician entered my restaurant")


# --- the command line ----------------------------------------------------------------------------

@pytest.mark.parametrize("module", ["pandalm", "qa_feedback", "lamp"])
def test_converter_runs_as_a_plain_script(module, datasets, tmp_path):
    """`python scripts/convert/X.py SRC OUT --limit N` works without Django and summarises on stderr."""
    out = tmp_path / "out.jsonl"
    done = subprocess.run(
        [sys.executable, "-I", str(ROOT / "scripts" / "convert" / f"{module}.py"), str(datasets / module), str(out),
         "--limit", "5"],
        capture_output=True, text=True, check=True, timeout=120,
    )
    lines = out.read_text().splitlines()
    assert lines and all(json.loads(line)["id"] for line in lines)
    assert done.stderr.startswith(f"{module}: wrote {len(lines)} item(s)")


def test_converters_import_no_django():
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import scripts.convert.pandalm, scripts.convert.qa_feedback, scripts.convert.lamp;"
        "bad = [m for m in sys.modules if m.split('.')[0] == 'django']; print(bad); sys.exit(1 if bad else 0)"
    )
    subprocess.run([sys.executable, "-I", "-c", code, str(ROOT)], check=True, timeout=60)
