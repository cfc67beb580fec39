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
    """A bad record: 1-based line number in the file and what is wrong with it."""

    line: int
    reason: str

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


@dataclass
class ParseResult:
    records: list[ItemRecord]
    errors: list[LineError]
    n_lines: int

    @property
    def ok(self) -> bool:
        return not self.errors
