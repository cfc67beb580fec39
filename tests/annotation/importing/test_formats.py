"""The import formats (annotation/importing), without a database: every format, every bad input.

A bad record never stops the parser: each becomes a LineError with its line number and a reason
that names the problem, and every bad line of a file is reported.
"""

import gzip
import io
import json
from pathlib import Path

import pytest

from annotation.importing import FORMATS, ImportOptions, LineError, parse_chunks, parse_file
from annotation.importing.formats import EMPTY_FILE
from annotation.importing.ids import content_id, pair_ids, prompt_id, response_id, swap_for

IMPORTING = Path(__file__).resolve().parents[3] / "annotation" / "importing"


def jsonl(*records) -> bytes:
    """Records as JSONL; a bytes or str record is written as it is (for broken lines)."""
    lines = []
    for record in records:
        if isinstance(record, bytes):
            lines.append(record)
        elif isinstance(record, str):
            lines.append(record.encode())
        else:
            lines.append(json.dumps(record).encode())
    return b"\n".join(lines) + b"\n"


def parse(fmt, *records, options=None):
    return parse_file(io.BytesIO(jsonl(*records)), fmt, options)


def only_error(fmt, record) -> str:
    """The reason a single bad record is rejected with (on line 1)."""
    result = parse(fmt, record)
    assert result.records == [] and len(result.errors) == 1, result.errors
    assert result.errors[0].line == 1
    return result.errors[0].reason


def by_position(record):
    return [response.text for response in record.responses]


# --- trl ------------------------------------------------------------------------------------------
def test_trl_plain_strings_become_one_user_turn_and_a_pair_labeled_by_the_file():
    [record] = parse("trl", {"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "Lyon."}).records
    assert record.kind == "pairwise" and record.messages == [{"role": "user", "content": "Capital of France?"}]
    [label] = record.labels
    assert (label.annotator, label.annotator_kind) == ("trl-import", "human")
    winner = by_position(record)[0 if label.winner == "A" else 1]
    loser = by_position(record)[1 if label.winner == "A" else 0]
    assert (winner, loser) == ("Paris.", "Lyon.")


def test_trl_conversational_with_an_explicit_prompt():
    record = {
        "prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of Italy?"}],
        "chosen": [{"role": "assistant", "content": "Rome."}],
        "rejected": [{"role": "assistant", "content": "Milan."}],
    }
    [parsed] = parse("trl", record).records
    assert parsed.messages == record["prompt"]
    assert sorted(by_position(parsed)) == ["Milan.", "Rome."]


def test_trl_conversational_with_an_implicit_prompt_takes_the_shared_prefix():
    history = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Capital of Spain?"},
    ]
    record = {
        "chosen": history + [{"role": "assistant", "content": "Madrid."}],
        "rejected": history + [{"role": "assistant", "content": "Barcelona."}],
    }
    [parsed] = parse("trl", record).records
    assert parsed.messages == history
    assert sorted(by_position(parsed)) == ["Barcelona.", "Madrid."]


def test_trl_attribution_follows_the_options():
    options = ImportOptions(annotator="gpt-judge", annotator_kind="judge")
    [record] = parse("trl", {"prompt": "p", "chosen": "a", "rejected": "b"}, options=options).records
    assert [(label.annotator, label.annotator_kind) for label in record.labels] == [("gpt-judge", "judge")]


def test_the_chosen_response_sits_at_a_or_b_by_a_hash_and_always_wins():
    records = parse(
        "trl", *({"prompt": f"q{i}", "chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(40))
    ).records
    winners = {record.labels[0].winner for record in records}
    assert winners == {"A", "B"}
    for record in records:
        position = 0 if record.labels[0].winner == "A" else 1
        assert record.responses[position].text.startswith("good")


def test_an_explicit_trl_id_is_the_item_id():
    [record] = parse("trl", {"id": "row-7", "prompt": "p", "chosen": "a", "rejected": "b"}).records
    assert record.external_id == "row-7"


# --- hh -------------------------------------------------------------------------------------------
def test_hh_prompt_is_the_shared_prefix_and_the_responses_its_last_replies():
    record = {
        "chosen": "\n\nHuman: Hi\n\nAssistant: Hello.\n\nHuman: Help me?\n\nAssistant: Sure, how?",
        "rejected": "\n\nHuman: Hi\n\nAssistant: Hello.\n\nHuman: Help me?\n\nAssistant: No.",
    }
    [parsed] = parse("hh", record).records
    assert parsed.messages == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "Help me?"},
    ]
    assert sorted(by_position(parsed)) == ["No.", "Sure, how?"]
    assert parsed.labels[0].annotator == "hh-rlhf"


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (
            {"chosen": "\n\nHuman: A\n\nAssistant: x", "rejected": "\n\nHuman: B\n\nAssistant: y"},
            "chosen and rejected differ before their last Assistant turn (not one prompt's pair)",
        ),
        (
            {"chosen": "\n\nHuman: A\n\nAssistant: x", "rejected": "\n\nHuman: A\n\nAssistant:  "},
            "field 'rejected' ends in an empty response",
        ),
        (
            {"chosen": "\n\nHuman: A", "rejected": "\n\nHuman: A\n\nAssistant: y"},
            "field 'chosen' has no '\\n\\nAssistant:' turn",
        ),
        (
            {"chosen": "Hi\n\nAssistant: x", "rejected": "Hi\n\nAssistant: y"},
            "transcript does not start with a '\\n\\nHuman:' turn",
        ),
        ({"chosen": "\n\nHuman: A\n\nAssistant: x"}, "field 'rejected' is missing"),
    ],
)
def test_hh_bad_pairs(record, reason):
    assert only_error("hh", record) == reason


# --- ranked ---------------------------------------------------------------------------------------
def test_ranked_scores_give_a_ranking_best_first_with_ties():
    record = {
        "id": "q1",
        "prompt": "Name a colour.",
        "completions": [
            {"text": "Blue.", "model": "m1", "score": 8.5},
            {"text": "Car.", "model": "m2", "score": 2},
            {"text": "Red.", "model": "m3", "score": 8.5},
            {"text": "Green.", "model": "m4", "score": 6},
        ],
    }
    [parsed] = parse("ranked", record).records
    assert parsed.kind == "listwise" and parsed.external_id == "q1"
    [label] = parsed.labels
    assert label.ranking == [[0, 2], [3], [1]]
    assert (label.annotator, label.annotator_kind) == ("ranked-import", "judge")
    assert parsed.metadata == {"scores": [8.5, 2, 8.5, 6]}
    assert [r.model_name for r in parsed.responses] == ["m1", "m2", "m3", "m4"]


def test_ranked_ranks_one_is_best():
    record = {
        "prompt": "p",
        "completions": [{"text": "x", "rank": 2}, {"text": "y", "rank": 1}, {"text": "z", "rank": 2}],
    }
    [parsed] = parse("ranked", record).records
    assert parsed.labels[0].ranking == [[1], [0, 2]]
    assert parsed.metadata == {"ranks": [2.0, 1.0, 2.0]}


def test_ranked_accepts_ultrafeedback_names():
    record = {
        "instruction": "Name a colour.",
        "completions": [
            {"response": "Blue.", "model": "m1", "overall_score": 7},
            {"response": "Car.", "model": "m2", "overall_score": 2},
        ],
    }
    options = ImportOptions(annotator="gpt-4", annotator_kind="judge")
    [parsed] = parse("ranked", record, options=options).records
    assert parsed.messages == [{"role": "user", "content": "Name a colour."}]
    assert by_position(parsed) == ["Blue.", "Car."]
    assert parsed.labels[0].ranking == [[0], [1]] and parsed.labels[0].annotator == "gpt-4"


@pytest.mark.parametrize(
    ("completions", "reason"),
    [
        ([{"text": "x", "score": 1}], "field 'completions' must hold 2 to 16 completions, got 1"),
        (
            [{"text": f"t{i}", "score": i} for i in range(17)],
            "field 'completions' must hold 2 to 16 completions, got 17",
        ),
        ([{"text": "x", "score": 1}, {"text": "y", "rank": 1}], "completions mix 'score' and 'rank': use one for all"),
        ([{"text": "x", "score": 1}, {"text": "y"}], "field 'completions[1].score' (or 'rank') is missing"),
        (
            [{"text": "x", "score": 1}, {"text": "y", "score": "high"}],
            "field 'completions[1].score' must be a number, got string",
        ),
        (
            [{"text": "x", "score": 1}, {"text": "y", "score": True}],
            "field 'completions[1].score' must be a number, got boolean",
        ),
        ([{"text": "x", "score": 1}, {"score": 2}], "field 'completions[1].text' is missing"),
        ([{"text": "x", "score": 1}, {"text": " ", "score": 2}], "field 'completions[1].text' is an empty response"),
        ([{"text": "x", "score": 1}, "y"], "completions[1] must be a JSON object, got string"),
    ],
)
def test_ranked_bad_completions(completions, reason):
    assert only_error("ranked", {"prompt": "p", "completions": completions}) == reason


# --- native ---------------------------------------------------------------------------------------
def test_native_pairwise_with_human_and_judge_labels_including_unparsable_judge_output():
    record = {
        "id": "pandalm-0",
        "kind": "pairwise",
        "prompt": "Rewrite this.",
        "metadata": {"source": "pandalm"},
        "responses": [
            {"text": "Rewritten.", "model": "llama-7b"},
            {"text": "Re-written.", "model": "bloom-7b", "seed": 3},
        ],
        "labels": [
            {
                "annotator": "annotator1",
                "annotator_kind": "human",
                "winner": "B",
                "strength": 2,
                "aspects": {"helpfulness": "B"},
                "shown_order": [1, 0],
                "time_spent_ms": 5300,
                "rationale": "shorter",
            },
            {"annotator": "gpt-3.5-turbo", "annotator_kind": "judge", "unparsable": True, "raw_output": "garbage"},
            {
                "annotator": "pandalm-7b",
                "annotator_kind": "judge",
                "winner": "tie",
                "probability": 0.5,
                "swap_consistent": False,
            },
        ],
    }
    [parsed] = parse("native", record).records
    assert (parsed.external_id, parsed.kind, parsed.metadata) == ("pandalm-0", "pairwise", {"source": "pandalm"})
    assert [(r.text, r.model_name, r.seed) for r in parsed.responses] == [
        ("Rewritten.", "llama-7b", None),
        ("Re-written.", "bloom-7b", 3),
    ]
    human, garbage, judge = parsed.labels
    assert (human.winner, human.strength, human.aspects, human.shown_order, human.time_spent_ms, human.rationale) == (
        "B",
        2,
        {"helpfulness": "B"},
        [1, 0],
        5300,
        "shorter",
    )
    assert (garbage.annotator_kind, garbage.unparsable, garbage.winner, garbage.raw_output) == (
        "judge",
        True,
        "",
        "garbage",
    )
    assert (judge.winner, judge.probability, judge.swap_consistent) == ("tie", 0.5, False)


def test_native_listwise_edit_and_thumbs():
    records = [
        {
            "id": "r",
            "kind": "listwise",
            "prompt": "Sort.",
            "responses": [{"text": "a"}, {"text": "b"}, {"text": "c"}],
            "labels": [
                {"annotator": "ann", "annotator_kind": "human", "ranking": [[2], [0, 1]]},
                {"annotator": "judge", "annotator_kind": "judge", "ranking": [1, 0, 2]},
            ],
        },
        {
            "id": "e",
            "kind": "edit",
            "prompt": "Fix.",
            "responses": [{"text": "He go."}],
            "labels": [{"annotator": "ann", "annotator_kind": "human", "edited_text": "He goes."}],
        },
        {
            "id": "t",
            "kind": "thumbs",
            "prompt": "Ok?",
            "responses": [{"text": "Yes."}],
            "labels": [
                {"annotator": "ann", "annotator_kind": "human", "thumbs": "down"},
                {"annotator": "judge", "annotator_kind": "judge", "thumbs": True},
            ],
        },
    ]
    listwise, edit, thumbs = parse("native", *records).records
    assert [label.ranking for label in listwise.labels] == [[[2], [0, 1]], [[1], [0], [2]]]
    assert edit.labels[0].edited_text == "He goes."
    assert [label.thumbs_up for label in thumbs.labels] == [False, True]


def _native(**changes):
    record = {
        "id": "x",
        "kind": "listwise",
        "prompt": "p",
        "responses": [{"text": "a"}, {"text": "b"}, {"text": "c"}],
        "labels": [{"annotator": "ann", "annotator_kind": "human", "ranking": [0, 1, 2]}],
    }
    label = changes.pop("label", None)
    if label is not None:
        record["labels"] = [{"annotator": "ann", "annotator_kind": "human", **label}]
    return {**record, **changes}


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        # rankings that are not a permutation of the responses
        (
            _native(label={"ranking": [0, 1, 1]}),
            "field 'labels[0].ranking' names position 1 twice: it must be a permutation of the responses",
        ),
        (
            _native(label={"ranking": [[0], [2]]}),
            "field 'labels[0].ranking' is not a permutation of the 3 responses (missing position(s) [1])",
        ),
        (_native(label={"ranking": [0, 1, 3]}), "field 'labels[0].ranking' names position 3, outside 0..2"),
        (_native(label={"ranking": [[0, 1], [], [2]]}), "field 'labels[0].ranking' has an empty tie group"),
        (_native(label={"ranking": []}), "field 'labels[0].ranking' must be a non-empty list"),
        (
            _native(label={"ranking": [0, True, 2]}),
            "field 'labels[0].ranking' must hold response positions (integers), got True",
        ),
        (_native(label={"ranking": "0,1,2"}), "field 'labels[0].ranking' must be a non-empty list"),
        # who labeled
        (
            _native(labels=[{"annotator": "ann", "annotator_kind": "robot", "ranking": [0, 1, 2]}]),
            "field 'labels[0].annotator_kind' must be 'human' or 'judge', got 'robot'",
        ),
        (_native(labels=[{"annotator_kind": "human", "ranking": [0, 1, 2]}]), "field 'labels[0].annotator' is missing"),
        (
            _native(labels=[{"annotator": "a" * 151, "annotator_kind": "human", "ranking": [0, 1, 2]}]),
            "field 'labels[0].annotator' is longer than 150 characters",
        ),
        (
            _native(labels=[{"annotator": "ann", "annotator_kind": "human", "ranking": [0, 1, 2]}] * 2),
            "labels[1] repeats annotator 'ann' (one label per annotator)",
        ),
        (_native(label={"unparsable": True}), "field 'labels[0].unparsable' is only for judge labels"),
        # wrongly typed or out-of-range fields, a JSON true where an integer is expected included
        (
            _native(label={"ranking": [0, 1, 2], "time_spent_ms": True}),
            "field 'labels[0].time_spent_ms' must be an integer, got boolean",
        ),
        (
            _native(label={"ranking": [0, 1, 2], "time_spent_ms": -1}),
            "field 'labels[0].time_spent_ms' must be between 0 and 2147483647, got -1",
        ),
        (
            _native(label={"ranking": [0, 1, 2], "time_spent_ms": 2**31}),
            "field 'labels[0].time_spent_ms' must be between 0 and 2147483647, got 2147483648",
        ),
        (
            _native(label={"ranking": [0, 1, 2], "probability": 1.5}),
            "field 'labels[0].probability' must be between 0 and 1, got 1.5",
        ),
        (
            _native(label={"ranking": [0, 1, 2], "shown_order": [0, 0, 1]}),
            "field 'labels[0].shown_order' must be a permutation of the positions 0..2",
        ),
        (
            _native(label={"ranking": [0, 1, 2], "shown_order": [True, False, 2]}),
            "field 'labels[0].shown_order' must be a permutation of the positions 0..2",
        ),
        (
            _native(label={"ranking": [0, 1, 2], "shown_order": ["a", 1, 2]}),
            "field 'labels[0].shown_order' must be a permutation of the positions 0..2",
        ),
        (_native(labels={"annotator": "ann"}), "field 'labels' must be a list, got object"),
        (_native(labels=["ann"]), "labels[0] must be a JSON object, got string"),
        # the item itself
        (_native(kind="ranking"), "field 'kind' must be one of pairwise, listwise, edit, thumbs, got 'ranking'"),
        (_native(id=7), "field 'id' must be a string, got integer"),
        (_native(id="x" * 201), "field 'id' is longer than 200 characters (201)"),
        (_native(prompt_id="p" * 201), "field 'prompt_id' is longer than 200 characters (201)"),
        (_native(prompt=None), "field 'prompt' is missing"),
        (_native(prompt=[]), "field 'prompt' must be a string or a non-empty list of messages"),
        (
            _native(prompt=[{"role": "bot", "content": "hi"}]),
            "field 'prompt[0].role' must be one of system, user, assistant, tool, got 'bot'",
        ),
        (_native(prompt=[{"role": "user"}]), "field 'prompt[0].content' is missing"),
        (_native(responses=[{"text": "a"}]), "a listwise item needs 2 to 16 responses, got 1"),
        (
            _native(responses=[{"text": "a"}, {"text": ""}, {"text": "c"}]),
            "field 'responses[1].text' is an empty response",
        ),
        (
            _native(responses=[{"text": "a"}, {"text": "b"}, {"text": 3}]),
            "field 'responses[2].text' must be a string, got integer",
        ),
        (
            _native(responses=[{"text": "a"}, {"text": "b"}, {"text": "c", "seed": 2**63}]),
            f"field 'responses[2].seed' must be between {-(2**63)} and {2**63 - 1}, got {2**63}",
        ),
        (
            _native(responses=[{"text": "a"}, {"text": "b"}, {"text": "c", "seed": 1.5}]),
            "field 'responses[2].seed' must be an integer, got number",
        ),
        (
            _native(responses=[{"text": "a"}, {"text": "b"}, {"text": "c", "model": "m" * 201}]),
            "field 'responses[2].model' is longer than 200 characters (201)",
        ),
    ],
)
def test_native_bad_records_name_the_field(record, reason):
    assert only_error("native", record) == reason


@pytest.mark.parametrize(
    ("kind", "responses", "label", "reason"),
    [
        ("pairwise", 2, {"winner": "C"}, "field 'labels[0].winner' must be one of A, B, tie, both_bad, got 'C'"),
        ("pairwise", 2, {}, "field 'labels[0].winner' is missing"),
        (
            "pairwise",
            2,
            {"winner": "A", "strength": True},
            "field 'labels[0].strength' must be an integer, got boolean",
        ),
        ("pairwise", 2, {"winner": "A", "strength": 11}, "field 'labels[0].strength' must be between 1 and 10, got 11"),
        (
            "pairwise",
            2,
            {"winner": "A", "aspects": {"honesty": "C"}},
            "field 'labels[0].aspects.honesty' must be one of A, B, tie, both_bad",
        ),
        ("edit", 1, {"edited_text": "  "}, "field 'labels[0].edited_text' is empty"),
        ("thumbs", 1, {"thumbs": "sideways"}, "field 'labels[0].thumbs' must be 'up' or 'down', got 'sideways'"),
        ("thumbs", 1, {"thumbs": 1}, "field 'labels[0].thumbs' must be a string or a boolean, got integer"),
    ],
)
def test_native_labels_must_carry_what_their_kind_needs(kind, responses, label, reason):
    record = {
        "id": "x",
        "kind": kind,
        "prompt": "p",
        "responses": [{"text": f"r{i}"} for i in range(responses)],
        "labels": [{"annotator": "ann", "annotator_kind": "human", **label}],
    }
    assert only_error("native", record) == reason


# --- bad input of any format: line numbers, reasons, and every bad line ------------------------------
GOOD = {"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "Lyon."}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (
            b'{"prompt": "p", "chosen": "a", "rejected": "b"',
            "invalid JSON: Expecting ',' delimiter at the end of the line",
        ),
        (b"[1, 2]", "record must be a JSON object, got list"),
        (b'"just a string"', "record must be a JSON object, got string"),
        (b"42", "record must be a JSON object, got integer"),
        (b"null", "record must be a JSON object, got null"),
        (b'{"prompt": "p", "rejected": "b"}', "field 'chosen' is missing"),
        (b'{"prompt": "p", "chosen": "a", "rejected": null}', "field 'rejected' is missing"),
        (b'{"chosen": "a", "rejected": "b"}', "field 'prompt' is missing"),
        (
            b'{"prompt": 5, "chosen": "a", "rejected": "b"}',
            "field 'prompt' must be a string or a non-empty list of messages",
        ),
        (b'{"prompt": "p", "chosen": true, "rejected": "b"}', "field 'chosen' must be a string or a list of messages"),
        (b'{"id": 12, "prompt": "p", "chosen": "a", "rejected": "b"}', "field 'id' must be a string, got integer"),
        (b'{"prompt": "p", "chosen": "   ", "rejected": "b"}', "field 'chosen' is an empty response"),
        (b'{"prompt": "   ", "chosen": "a", "rejected": "b"}', "field 'prompt' is empty"),
        (b'{"prompt": "caf\xe9", "chosen": "a", "rejected": "b"}', "not valid UTF-8 (byte 16 of the line)"),
        (
            b'{"prompt": "p", "chosen": "a\\u0000", "rejected": "b"}',
            "field 'chosen' contains a NUL character (\\u0000), which cannot be stored",
        ),
        (
            b'{"prompt": "p", "chosen": [{"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}], "rejected": "b"}',
            "field 'chosen' must hold exactly one assistant message",
        ),
        (
            b'{"chosen": [{"role": "user", "content": "a"}], "rejected": [{"role": "user", "content": "b"}]}',
            "chosen and rejected share no prompt messages and field 'prompt' is missing",
        ),
        (
            b'{"chosen": [{"role": "user", "content": "a"}], "rejected": [{"role": "user", "content": "a"}]}',
            "chosen and rejected are the same conversation: there is no completion to compare",
        ),
    ],
)
def test_a_bad_trl_line_is_reported_with_its_number_and_what_is_wrong(line, reason):
    result = parse("trl", GOOD, b"", line, {**GOOD, "prompt": "Capital of Peru?"})
    assert result.errors == [LineError(3, reason)]
    assert len(result.records) == 2 and result.n_lines == 4


def test_every_bad_line_is_reported_not_only_the_first():
    lines = [
        GOOD,  # 1
        b"{broken",  # 2
        {"prompt": "p", "chosen": "", "rejected": "b"},  # 3
        b"",  # 4 (blank)
        [GOOD],  # 5
        {"prompt": "q", "chosen": "a", "rejected": "b"},  # 6
        {"prompt": "p", "chosen": 1, "rejected": "b"},  # 7
        b"\xff\xfe",  # 8
        {"id": "dup", "prompt": "r", "chosen": "a", "rejected": "b"},  # 9
        {"id": "dup", "prompt": "r", "chosen": "a", "rejected": "c"},  # 10: same id, other content
        {"prompt": "s"},  # 11
    ]
    result = parse("trl", *lines)
    assert [e.line for e in result.errors] == [2, 3, 5, 7, 8, 10, 11]
    assert [e.reason for e in result.errors] == [
        "invalid JSON: Expecting property name enclosed in double quotes at column 2",
        "field 'chosen' is an empty response",
        "record must be a JSON object, got list",
        "field 'chosen' must be a string or a list of messages",
        "not valid UTF-8 (byte 1 of the line)",
        "item id 'dup' was already used on line 9",
        "field 'chosen' is missing",
    ]
    assert [r.line for r in result.records] == [1, 6, 9]


def test_an_identical_duplicate_is_dropped_silently_and_a_different_one_is_an_error():
    result = parse("trl", GOOD, GOOD, {**GOOD, "id": "x"}, {**GOOD, "id": "x"}, {**GOOD, "id": "x", "chosen": "Paris!"})
    assert [r.line for r in result.records] == [1, 3]
    assert result.errors == [LineError(5, "item id 'x' was already used on line 3")]


def test_a_native_duplicate_that_differs_only_in_metadata_is_an_error():
    record = {"id": "n1", "kind": "thumbs", "prompt": "p", "responses": [{"text": "a"}]}
    result = parse("native", record, {**record, "metadata": {"batch": 2}})
    assert result.errors == [LineError(2, "item id 'n1' was already used on line 1")]


@pytest.mark.parametrize("data", [b"", b"\n\n \n", gzip.compress(b"")])
def test_an_empty_or_blank_file_is_one_error(data):
    result = parse_file(io.BytesIO(data), "trl")
    assert (result.records, result.errors) == ([], [LineError(0, EMPTY_FILE)])


def test_gzip_input_parses_like_plain_input():
    data = jsonl(GOOD, b"{broken", {"prompt": "q", "chosen": "a", "rejected": "b"})
    plain, gzipped = parse_file(io.BytesIO(data), "trl"), parse_file(io.BytesIO(gzip.compress(data)), "trl")
    assert gzipped.records == plain.records and gzipped.errors == plain.errors == [LineError(2, plain.errors[0].reason)]


def test_a_truncated_gzip_file_is_an_error_after_its_last_complete_line():
    records = [
        {"prompt": f"question {i} " + "x" * (i * 37 % 500), "chosen": f"a{i}", "rejected": f"b{i}"} for i in range(300)
    ]
    data = gzip.compress(jsonl(*records))
    result = parse_file(io.BytesIO(data[: len(data) // 2]), "trl")
    n = len(result.records)
    assert 0 < n < 300 and [r.line for r in result.records] == list(range(1, n + 1))
    assert result.errors == [LineError(n + 1, "the gzip file is truncated: it ends before its end-of-stream marker")]


def test_unknown_format_is_refused_before_reading():
    with pytest.raises(ValueError, match="unknown format 'csv'; choose one of hh, native, ranked, trl"):
        parse_file(io.BytesIO(b"{}\n"), "csv")
    assert sorted(FORMATS) == ["hh", "native", "ranked", "trl"]


def test_parse_chunks_yields_the_same_as_parse_file_in_pieces():
    lines = [
        GOOD,
        b"{bad",
        GOOD,
        {"id": "d", **GOOD},
        {"prompt": "q", "chosen": "a", "rejected": "b"},
        {"id": "d", **GOOD, "chosen": "P"},
    ]
    data = jsonl(*lines)
    whole = parse_file(io.BytesIO(data), "trl")
    pieces = list(parse_chunks(io.BytesIO(data), "trl", size=2))
    # A small first piece (a tenth of the size, at least one line), then pieces of `size` lines; the
    # identical duplicate on line 3 fills a place in the second piece, but is dropped from it when the
    # piece is checked against the ids of the earlier pieces.
    assert [len(p.records) + len(p.errors) for p in pieces] == [1, 1, 2, 1]
    assert [r for p in pieces for r in p.records] == whole.records
    assert (
        [e for p in pieces for e in p.errors]
        == whole.errors
        == [LineError(2, whole.errors[0].reason), LineError(6, "item id 'd' was already used on line 4")]
    )
    assert pieces[-1].n_lines == whole.n_lines == 6


# --- ids ------------------------------------------------------------------------------------------
def test_content_ids_are_stable_known_values():
    """Stored ids: re-importing relies on these never changing (values from the first release)."""
    assert response_id("Paris is the capital of France.") == "r-0002dbe44f51b5bf2ae3ada95da3d2c5"
    assert response_id('Lyon.\n"quoted" ü', "gpt-4") == "r-2bdb155bb33ab4dbdb8b388826036bb6"
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of France?"}]
    assert prompt_id(messages) == "p-806032cf82ae8f42086368730f5b787e"
    user = [{"role": "user", "content": "Capital of France?"}]
    assert content_id(user, "Paris.", "Lyon.", prefix="pair-") == "pair-fcd58b9adb2db2ccbfcca940012fe2c1"
    assert [swap_for(k) for k in ("pair-x", "pair-y", "a", "b")] == [True, False, False, True]


@pytest.mark.parametrize(
    ("fmt", "record", "ids"),
    [
        (
            "trl",
            {"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "Lyon."},
            (
                "pair-fcd58b9adb2db2ccbfcca940012fe2c1",
                "p-e765aa69082435693ebbc66f25dce8cc",
                ["r-c71365521a6b56bce7ce6af0cc7affb5", "r-6bca6e9b20d8a0fcee7ae860683590bf"],
                "B",
            ),
        ),
        (
            "trl",
            {
                "prompt": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Capital of Italy?"},
                ],
                "chosen": [{"role": "assistant", "content": "Rome."}],
                "rejected": [{"role": "assistant", "content": "Milan."}],
            },
            (
                "pair-dccee068988f3acb42f86891dd147dad",
                "p-671e3425170351ab38efdc137ccd09fd",
                ["r-2e8aad8dccf5bdcc9d21cdd2a0f33232", "r-19c1c4354890314708a8bcf422c5338d"],
                "A",
            ),
        ),
        (
            "hh",
            {
                "chosen": "\n\nHuman: Hi there\n\nAssistant: Hello! How can I help?",
                "rejected": "\n\nHuman: Hi there\n\nAssistant: Go away.",
            },
            (
                "pair-f5e213a04b8d25e375e68a0100870e94",
                "p-e42be1273677bf33614dd632d519a971",
                ["r-c9353791e05306a49c6dcb180db9994a", "r-9f47e2f5630a3c2f5d9f32b14a4e1c26"],
                "A",
            ),
        ),
        (
            "ranked",
            {
                "instruction": "Name a colour.",
                "completions": [
                    {"response": "Blue.", "model": "m1", "overall_score": 7},
                    {"response": "Car.", "model": "m2", "overall_score": 2},
                ],
            },
            (
                "rank-e8aacf1b6817c153a7947982d0261dba",
                "p-a7ea584d275e289d79335784b3451054",
                ["r-01682d42215a22b64927ac6b20066208", "r-bb8cf8790e0139b23a6ecc78ba254c3e"],
                "",
            ),
        ),
    ],
)
def test_records_get_the_ids_of_the_first_release(fmt, record, ids):
    [parsed] = parse(fmt, record).records
    assert (
        parsed.external_id,
        parsed.prompt_external_id,
        [r.external_id for r in parsed.responses],
        parsed.labels[0].winner,
    ) == ids


def test_pair_ids_are_the_general_ids_computed_once():
    messages = [{"role": "user", "content": 'Ünïcode "quotes" and \\ backslashes\n'}]
    assert pair_ids(messages, "chosen\t", "rejected", "m-a", "") == (
        content_id(messages, "chosen\t", "rejected", prefix="pair-"),
        prompt_id(messages),
        response_id("chosen\t", "m-a"),
        response_id("rejected", ""),
    )


def test_the_import_core_does_not_import_django():
    """annotation/importing is plain Python: it parses files without a database or settings."""
    offenders = [p.name for p in IMPORTING.rglob("*.py") if "django" in p.read_text()]
    assert offenders == []
