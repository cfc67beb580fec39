"""manage.py jobs: list, start, cancel and reap jobs from the command line (as an operator: no permission checks).

    manage.py jobs list [--state running] [--kind diagnostic] [--project SLUG] [--limit 20]
    manage.py jobs start diagnostic --config '{"steps": 20, "queue": "gpu"}' [--project SLUG]
    manage.py jobs start train_rm --config '{"base_model_id": 3}' --dataset-version hh-demo:1
    manage.py jobs cancel 42
    manage.py jobs reap [--stale-after 90]
"""
import json
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.errors import PrefStudioError
from annotation.models import DatasetVersion, Project
from training.selectors import job_list_for_user
from training.services.jobs import job_cancel, job_start, jobs_reap_stale, jobs_resend_lost


class Command(BaseCommand):
    help = "List, start, cancel and reap jobs (generation, judging, training, diagnostic)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="the newest jobs, one line each")
        listing.add_argument("--state", default="")
        listing.add_argument("--kind", default="")
        listing.add_argument("--project", default="", help="project slug")
        listing.add_argument("--limit", type=int, default=20)
        start = sub.add_parser("start", help="queue a job")
        start.add_argument("kind")
        start.add_argument("--config", default="{}", help="the kind's config as a JSON object")
        start.add_argument("--project", default="", help="project slug")
        start.add_argument("--dataset-version", default=None,
                           help="dataset version: its id, or PROJECT:NUMBER as `curate` prints it (hh-demo:2)")
        cancel = sub.add_parser("cancel", help="cancel a job (a running one stops at its next step)")
        cancel.add_argument("job_id", type=int)
        reap = sub.add_parser("reap", help="re-queue or fail running jobs whose worker stopped beating, and re-send "
                                           "queued jobs whose message the broker lost")
        reap.add_argument("--stale-after", type=float, default=None,
                          help="seconds without a heartbeat (default: JOBS_STALE_AFTER_SECONDS)")

    def handle(self, *args, action: str, **options) -> None:
        try:
            getattr(self, f"do_{action}")(**options)
        except PrefStudioError as exc:
            raise CommandError(exc.message) from exc

    def do_list(self, *, state: str, kind: str, project: str, limit: int, **_) -> None:
        for job in job_list_for_user(user=None, kind=kind, state=state, project=project)[:limit]:
            project_slug = job.project.slug if job.project else "-"
            self.stdout.write(
                f"{job.pk:>6}  {job.kind:<12} {job.state:<10} {job.progress:5.1f}%  {project_slug:<16} "
                f"{job.created_at:%Y-%m-%d %H:%M}  {job.worker_host or '-'}  {job.message}"
            )

    def do_start(self, *, kind: str, config: str, project: str, dataset_version: str | None, **_) -> None:
        try:
            parsed = json.loads(config)
        except json.JSONDecodeError as exc:
            raise CommandError(f"--config is not JSON: {exc}") from exc
        project_obj = Project.objects.filter(slug=project).first() if project else None
        if project and project_obj is None:
            raise CommandError(f"no project {project!r}")
        version = _dataset_version(dataset_version) if dataset_version else None
        job = job_start(kind=kind, config=parsed, project=project_obj, dataset_version=version, user=None)
        self.stdout.write(f"job {job.pk} queued ({job.kind}); watch it with: manage.py jobs list")

    def do_cancel(self, *, job_id: int, **_) -> None:
        job = job_cancel(job_id=job_id, user=None)
        self.stdout.write(f"job {job.pk}: {job.state}, {job.message}")

    def do_reap(self, *, stale_after: float | None, **_) -> None:
        done = jobs_reap_stale(stale_after=None if stale_after is None else timedelta(seconds=stale_after))
        for job_id, outcome in done:
            self.stdout.write(f"job {job_id}: {outcome}")
        self.stdout.write(f"{len(done)} stale job{'s' if len(done) != 1 else ''} reaped")
        resent = jobs_resend_lost()
        for job_id in resent:
            self.stdout.write(f"job {job_id}: re-sent (the broker had lost its message)")
        self.stdout.write(f"{len(resent)} lost message{'s' if len(resent) != 1 else ''} re-sent")


def _dataset_version(text: str) -> DatasetVersion:
    """A DatasetVersion from "42" (its id) or "hh-demo:2" (project slug and version number)."""
    slug, sep, number = text.rpartition(":")
    if sep:
        version = DatasetVersion.objects.filter(project__slug=slug, number=int(number) if number.isdigit() else -1)
    else:
        version = DatasetVersion.objects.filter(pk=int(text) if text.isdigit() else -1)
    found = version.first()
    if found is None:
        raise CommandError(f"no dataset version {text} (give its id or PROJECT:NUMBER)")
    return found
