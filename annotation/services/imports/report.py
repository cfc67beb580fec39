"""What an import reports, and the error that rejects a file."""
from dataclasses import dataclass, field

from ...errors import PrefStudioError
from ...importing import TOO_MANY_BAD_LINES, LineError

MAX_REPORTED_ERRORS = 1000


class ImportRejected(PrefStudioError):
    """The file has bad records (or conflicts with the project); nothing was written.

    A file that broke a size limit (`limit`: the setting's name) is a 413 whose message is that
    error; reading stopped there.
    """

    def __init__(self, errors: list[LineError]) -> None:
        shown = errors[:MAX_REPORTED_ERRORS]
        more = f" (and {len(errors) - len(shown)} more)" if len(errors) > len(shown) else ""
        broken = next((e for e in errors if e.limit), None)
        self.limit = broken.limit if broken else ""
        if broken and broken.limit != TOO_MANY_BAD_LINES:
            self.status_code = 413
            message = f"import rejected: {broken}; nothing was imported"
        elif broken:
            message = f"import rejected: {broken}, the first {len(shown)} are listed; nothing was imported"
        else:
            message = f"import rejected: {len(errors)} bad record(s){more}; nothing was imported"
        super().__init__(message, field="file", details=[str(e) for e in shown])
        self.errors = errors


@dataclass
class ImportReport:
    project: str
    format: str
    project_created: bool = False
    records: int = 0
    prompts_created: int = 0
    responses_created: int = 0
    items_created: int = 0
    items_existing: int = 0
    labels_created: int = 0
    labels_existing: int = 0
    annotators_created: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    # Seconds: parse (CPU of the parser thread, overlapping the rest), waiting (for the parser),
    # write (building rows and handing them to the sink, which may already be writing), drain
    # (waiting for the sink to write the rest), finish (counters, kinds, commit), total.
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def changed_nothing(self) -> bool:
        return not (self.prompts_created or self.responses_created or self.items_created or self.labels_created)
