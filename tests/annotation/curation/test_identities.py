"""Annotator tokens in stored text: written by curation, rendered per viewer."""
from annotation.curation.identities import annotator_ids_in, annotator_token, render_annotators, render_annotators_json

NAMES = {3: "alice", 12: "judge-gpt"}


def test_a_token_round_trips_to_the_name_the_viewer_may_see():
    text = f"low-competence votes ({annotator_token(3)} 0.30, {annotator_token(12)} 0.40; < 0.60)"
    assert annotator_ids_in(text) == {3, 12}
    assert render_annotators(text, NAMES.get) == "low-competence votes (alice 0.30, judge-gpt 0.40; < 0.60)"
    assert render_annotators(text, lambda i: f"annotator {i}") == (
        "low-competence votes (annotator 3 0.30, annotator 12 0.40; < 0.60)")


def test_text_without_tokens_is_returned_as_it_is():
    for text in ("", "annotators split 2–1", "{annotator:x}", "{annotators:3}"):
        assert render_annotators(text, NAMES.get) == text


def test_json_is_rendered_in_keys_and_nested_values_and_left_unchanged_otherwise():
    stats = {"consensus": {"competence": {"{annotator:3}": 0.3, "{annotator:12}": 0.9}, "method": "mace"},
             "reasons": ["rests on {annotator:3}"], "rows": 4, "weight": None}
    assert render_annotators_json(stats, NAMES.get) == {
        "consensus": {"competence": {"alice": 0.3, "judge-gpt": 0.9}, "method": "mace"},
        "reasons": ["rests on alice"], "rows": 4, "weight": None}
    assert stats["consensus"]["competence"] == {"{annotator:3}": 0.3, "{annotator:12}": 0.9}  # a copy
