"""python manage.py import_data --project SLUG --format FORMAT [--owner USER] FILE"""
from django.core.management.base import BaseCommand, CommandError

from annotation.errors import PrefStudioError
from annotation.importing import FORMATS, ImportOptions
from annotation.services.imports import data_import
from annotation.services.projects import user_find


class Command(BaseCommand):
    help = "Import a JSONL file (plain or .gz) into a project, creating the project if needed. All or nothing."
    # A data command starts without Django's system checks: they import every URL, view and the curation stack
    # (1.5-3 s, most of a 100k export's wall time) to look for configuration mistakes that `manage.py check`,
    # `migrate` and `runserver` report anyway. `manage.py check` still runs them all.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path to the JSONL file (.jsonl or .jsonl.gz)")
        parser.add_argument("--project", required=True, help="Project slug (created if it does not exist)")
        parser.add_argument("--format", required=True, choices=sorted(FORMATS), help="Input format")
        parser.add_argument("--annotator", help="Who gave the preferences of a trl / hh / ranked file")
        parser.add_argument("--annotator-kind", choices=["human", "judge"], default="human")
        parser.add_argument(
            "--owner", metavar="USER",
            help="Username (or e-mail) who owns a project this import creates; for an existing project, one of "
                 "its owners. Without it a new project has no members and only shows up after members are added.",
        )
        parser.add_argument(
            "--skip-invalid", action="store_true",
            help="Import the valid records and list the bad ones, instead of rejecting the file",
        )

    def handle(self, *args, **opts):
        options = ImportOptions(annotator=opts["annotator"], annotator_kind=opts["annotator_kind"])
        try:
            owner = user_find(who=opts["owner"]) if opts["owner"] else None
        except PrefStudioError as exc:
            raise CommandError(f"--owner: {exc.message}") from exc
        try:
            with open(opts["file"], "rb") as stream:
                report = data_import(
                    project_slug=opts["project"], fmt=opts["format"], stream=stream,
                    options=options, skip_invalid=opts["skip_invalid"], user=owner,
                )
        except OSError as exc:
            raise CommandError(f"cannot read {opts['file']}: {exc.strerror}") from exc
        except PrefStudioError as exc:
            for line in exc.details:
                self.stderr.write(f"  {line}")
            raise CommandError(exc.message) from exc
        for line in report.skipped:
            self.stderr.write(f"  skipped {line}")
        self.stdout.write(
            f"{report.project}: {report.records} records → {report.items_created} new items "
            f"({report.items_existing} already there), {report.prompts_created} prompts, "
            f"{report.responses_created} responses, {report.labels_created} labels"
            + (f", {len(report.skipped)} bad lines skipped" if report.skipped else "")
        )

