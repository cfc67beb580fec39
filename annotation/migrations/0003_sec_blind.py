"""Annotator names stored by curation before issue 10 become {annotator:<id>} tokens.

Noise reasons (ItemFlag.reason, and the reasons in DatasetRow.provenance) and the competence statistics of
dataset versions (stats.consensus.competence) named annotators; they are now rendered per viewer from tokens
(annotation/curation/identities.py), so a blind project hides people from its reviewers. Only the two reason
shapes that named annotators are rewritten: "... low-competence votes (name 0.30, ...; < 0.60) ..." and
"... changed when the responses were swapped (name, ...)". Names no annotator has are left as they are.
Irreversible in effect (reversing keeps the tokens, which render as names for owners).
"""
import re

from django.db import migrations

LOW_COMPETENCE = re.compile(r"(low-competence votes \()(.*?)(; < )")
SWAPPED = re.compile(r"(changed when the responses were swapped \()(.*)(\))$")
BATCH = 2000


def _token(annotator_id: int) -> str:
    return f"{{annotator:{annotator_id}}}"


def tokenized_reason(text: str, ids: dict[str, int]) -> str:
    """A legacy reason with the annotator names of its two naming shapes replaced by tokens."""
    def votes(match):  # "ann 0.30, bob 0.45"
        parts = []
        for part in match.group(2).split(", "):
            name, _, competence = part.rpartition(" ")
            parts.append(f"{_token(ids[name])} {competence}" if name in ids else part)
        return match.group(1) + ", ".join(parts) + match.group(3)

    def judges(match):  # "gpt, llama"
        names = match.group(2).split(", ")
        return match.group(1) + ", ".join(_token(ids[n]) if n in ids else n for n in names) + match.group(3)

    return SWAPPED.sub(judges, LOW_COMPETENCE.sub(votes, text or ""))


def forwards(apps, schema_editor):
    Annotator = apps.get_model("annotation", "Annotator")
    ItemFlag = apps.get_model("annotation", "ItemFlag")
    DatasetRow = apps.get_model("annotation", "DatasetRow")
    DatasetVersion = apps.get_model("annotation", "DatasetVersion")
    ids = dict(Annotator.objects.values_list("name", "id"))
    if not ids:
        return
    changed = []
    for flag in ItemFlag.objects.filter(name__startswith="noise:").only("id", "reason").iterator(chunk_size=BATCH):
        reason = tokenized_reason(flag.reason, ids)
        if reason != flag.reason:
            flag.reason = reason
            changed.append(flag)
    ItemFlag.objects.bulk_update(changed, ["reason"], batch_size=BATCH)
    changed = []
    for row in DatasetRow.objects.exclude(provenance__reasons=[]).only("id", "provenance").iterator(chunk_size=BATCH):
        reasons = (row.provenance or {}).get("reasons")
        if not isinstance(reasons, list):
            continue
        tokenized = [tokenized_reason(str(r), ids) for r in reasons]
        if tokenized != reasons:
            row.provenance = {**row.provenance, "reasons": tokenized}
            changed.append(row)
        if len(changed) >= BATCH:
            DatasetRow.objects.bulk_update(changed, ["provenance"])
            changed = []
    DatasetRow.objects.bulk_update(changed, ["provenance"], batch_size=BATCH)
    for version in DatasetVersion.objects.only("id", "stats").iterator():
        competence = ((version.stats or {}).get("consensus") or {}).get("competence")
        if not isinstance(competence, dict) or not any(name in ids for name in competence):
            continue
        tokens = {(_token(ids[name]) if name in ids else name): value for name, value in competence.items()}
        version.stats = {**version.stats, "consensus": {**version.stats["consensus"], "competence": tokens}}
        version.save(update_fields=["stats"])


class Migration(migrations.Migration):

    dependencies = [
        ("annotation", "0002_sec_imports"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True),
    ]
