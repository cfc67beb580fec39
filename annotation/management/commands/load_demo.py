"""python manage.py load_demo [--data-dir DIR]: the demo users and projects (idempotent)."""
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from annotation.errors import PrefStudioError
from annotation.services.demo import DEMO_USERS, demo_load


class Command(BaseCommand):
    help = "Create the demo users and projects from the slices in demo/data/. Running it again changes nothing."

    def add_arguments(self, parser):
        parser.add_argument(
            "--data-dir", type=Path, default=Path(settings.BASE_DIR) / "demo" / "data",
            help="Folder with the demo slices (default: demo/data in the checkout)",
        )

    def handle(self, *args, **opts):
        try:
            report = demo_load(data_dir=opts["data_dir"])
        except PrefStudioError as exc:
            for line in exc.details:
                self.stderr.write(f"  {line}")
            raise CommandError(exc.message) from exc
        for slug, imported in report.imports.items():
            state = "created" if slug in report.projects_created else "already there"
            self.stdout.write(
                f"{slug} ({state}): {imported.items_created} new items, {imported.labels_created} new labels, "
                f"{imported.items_existing} items already there"
                + (f", {len(imported.skipped)} bad lines skipped" if imported.skipped else "")
            )
        for user in DEMO_USERS:
            created = " (created)" if user.username in report.users_created else ""
            self.stdout.write(f"login: {user.username} / {user.password} ({user.role}){created}")
        if report.changed_nothing:
            self.stdout.write("demo already loaded: nothing changed")
