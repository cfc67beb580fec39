"""The normalized shape every import format is parsed into."""
from dataclasses import dataclass, field
from typing import Any

KINDS = ("pairwise", "listwise", "edit", "thumbs")
ANNOTATOR_KINDS = ("human", "judge")
WINNERS = ("A", "B", "tie", "both_bad")
ROLES = ("system", "user", "assistant", "tool")

# Column sizes of the rows these records become (annotation/models; a test keeps them equal), so
# that a too-long id is a numbered line error rather than a database error at insert time.
MAX_ID_LENGTH = 200  # Prompt / Response / Item .external_id
MAX_MODEL_LENGTH = 200  # Response.model_name
MAX_ANNOTATOR_LENGTH = 150  # Annotator.name
MAX_INT32 = 2**31 - 1  # PositiveIntegerField, e.g. Label.time_spent_ms
INT64 = (-(2**63), 2**63 - 1)  # BigIntegerField, e.g. Response.seed


@dataclass(frozen=True)
class LineError:
    """A bad record: 1-based line number in the file and what is wrong with it.

    `limit` names the size limit the file broke (an ImportLimits setting name), if any: reading
    stopped there, and the whole file is refused, even when bad lines are skipped.
    """

    line: int
    reason: str
    limit: str = field(default="", compare=False)

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ResponseRecord:
    text: str
    external_id: str
    model_name: str = ""
    gen_params: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None


@dataclass
class LabelRecord:
    """A verdict on the item's responses by position (A = 0); ranking = tie groups, best first."""

    annotator: str
    annotator_kind: str
    winner: str = ""
    strength: int | None = None
    aspects: dict[str, str] = field(default_factory=dict)
    rationale: str = ""
    ranking: list[list[int]] | None = None
    edited_text: str | None = None
    thumbs_up: bool | None = None
    shown_order: list[int] = field(default_factory=list)
    time_spent_ms: int | None = None
    probability: float | None = None
    raw_output: str = ""
    swap_consistent: bool | None = None
    unparsable: bool = False


@dataclass
class ItemRecord:
    line: int
    external_id: str
    kind: str
    prompt_external_id: str
    messages: list[dict[str, str]]
    responses: list[ResponseRecord]
    labels: list[LabelRecord] = field(default_factory=list)
    prompt_metadata: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    # The known answer (importing.references: {"winner": ..} or {"ranking": ..}); None = none.
    reference: dict[str, Any] | None = None
    # canonical_json(messages) where the parser encoded them anyway (for the prompt id), so that the record's
    # digest and the writer's prompt check do not encode them again; None = not computed.
    messages_json: str | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ImportOptions:
    """How preference formats without named annotators attribute their labels.

    `trl`, `hh` and `ranked` files carry a preference but not who gave it; it is recorded as a
    label by `annotator` (created on first use) of `annotator_kind`.
    """

    annotator: str | None = None
    annotator_kind: str = "human"
    source_name: str = ""

    def __post_init__(self) -> None:
        if self.annotator_kind not in ANNOTATOR_KINDS:
            raise ValueError(f"annotator_kind must be one of {ANNOTATOR_KINDS}, got {self.annotator_kind!r}")
        if self.annotator and len(self.annotator) > MAX_ANNOTATOR_LENGTH:
            raise ValueError(f"annotator must be at most {MAX_ANNOTATOR_LENGTH} characters long")


MiB = 1 << 20


@dataclass(frozen=True)
class ImportLimits:
    """Size limits enforced while a file is read, before anything is held in memory.

    Each limit has the name of the setting (and environment variable) that sets it, which the
    error messages quote so that an operator knows what to raise. The defaults are the settings'
    defaults (prefstudio/settings/imports.py).
    """

    max_bytes: int = 512 * MiB  # decompressed bytes of the whole file
    max_line_bytes: int = 8 * MiB  # bytes of one line, without its newline
    max_text_chars: int = 400_000  # characters of one text: a prompt message, a response, a rationale, an edit
    # Bad lines kept before reading stops: each costs memory, and a file this bad is not worth reading on.
    max_bad_lines: int = 10_000
    # The setting named when max_bytes is exceeded (an upload read inline has a lower cap of its own).
    bytes_setting: str = "PREFSTUDIO_IMPORT_MAX_DECOMPRESSED_BYTES"

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_line_bytes", "max_text_chars", "max_bad_lines"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


LINE_SETTING = "PREFSTUDIO_IMPORT_MAX_LINE_BYTES"
TEXT_SETTING = "PREFSTUDIO_MAX_TEXT_CHARS"


def size_text(n: int) -> str:
    """A byte count as people write it: '1 MiB', '512 KiB', '1000 bytes'."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", MiB), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} bytes"


def text_too_long(text: str, where: str, limit: int) -> str | None:
    """Why `text` (named by `where`) is too long to store, or None."""
    if len(text) <= limit:
        return None
    return f"{where} is {len(text)} characters long, over the {limit}-character text limit ({TEXT_SETTING})"


def record_text_too_long(record: "ItemRecord", limit: int) -> str | None:
    """The first text of `record` longer than `limit` characters, as an error message; or None."""
    for i, message in enumerate(record.messages):
        problem = text_too_long(message["content"], f"the prompt's message {i}", limit)
        if problem:
            return problem
    for i, response in enumerate(record.responses):
        problem = text_too_long(response.text, f"response {i}", limit)
        if problem:
            return problem
    for label in record.labels:
        for name in ("rationale", "raw_output", "edited_text"):
            value = getattr(label, name)
            problem = value and text_too_long(value, f"the {name} of {label.annotator!r}", limit)
            if problem:
                return problem
    return None


@dataclass
class ParseResult:
    records: list[ItemRecord]
    errors: list[LineError]
    n_lines: int

    @property
    def ok(self) -> bool:
        return not self.errors
