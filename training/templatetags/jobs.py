"""Template filters of the job pages."""
from django import template

register = template.Library()


@register.filter
def seconds(value: float | None) -> str:
    """A duration in seconds as words: 42 -> "42 s", 135 -> "2 min 15 s", 7300 -> "2 h 1 min"."""
    if value is None:
        return ""
    total = max(0, round(float(value)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


@register.filter
def duration(job) -> str:
    """How long the job ran (so far, if it is running); "" before it started."""
    from django.utils import timezone

    if job.started_at is None:
        return ""
    end = job.finished_at or timezone.now()
    return seconds((end - job.started_at).total_seconds())


@register.filter
def as_json(value) -> str:
    """A config or result value as JSON (strings unquoted): what a user would type back into a config."""
    import json

    return value if isinstance(value, str) else json.dumps(value)


@register.filter
def readable(value) -> str:
    """A config or result value in words, not JSON: None -> "—", booleans yes / no, lists joined by commas,
    objects as "key: value" pairs, floats to 4 significant digits."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return "; ".join(f"{str(k).replace('_', ' ')}: {readable(v)}" for k, v in value.items()) or "—"
    if isinstance(value, (list, tuple)):
        return ", ".join(readable(v) for v in value) or "none"
    return str(value)


@register.filter
def metric(value) -> str:
    """A number of a metrics table: "—" for not measured, integers as they are, the rest to 3 decimals."""
    if value is None or isinstance(value, bool):
        return "—"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
