"""The demo: two users and four projects of real preference data, from the slices in demo/data/.

`make run` calls it on every start, so it is idempotent: users and projects are created once,
and re-importing a slice changes nothing (imports are keyed by external ids).
"""
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from ..errors import PrefStudioError
from ..importing import ImportOptions
from ..models import Project, Role
from .imports import ImportReport, data_import
from .projects import membership_set, project_create


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    role: str
    superuser: bool = False


# Printed by `load_demo` and scripts/run_dev.sh: local demo logins, never used outside `make run`.
DEMO_OWNER = DemoUser("demo", "demo-password-123", Role.OWNER, superuser=True)
DEMO_ANNOTATOR = DemoUser("annotator", "annotator-password-123", Role.ANNOTATOR)
DEMO_USERS = (DEMO_OWNER, DEMO_ANNOTATOR)


@dataclass(frozen=True)
class DemoProject:
    slug: str
    name: str
    file: str  # relative to the data folder
    fmt: str
    description: str
    # Human labels wanted per item. Where the data already has that many, items arrive labeled
    # (ready for curation); where it has fewer, the demo annotator has a queue to work through.
    overlap: int
    task_kinds: tuple[str, ...] = ("pairwise",)
    skip_invalid: bool = False  # only for hh, whose real test files hold a few empty replies


DEMO_PROJECTS = (
    DemoProject(
        "pandalm-demo", "PandaLM (pairwise, 3 humans + 2 judges)", "pandalm/pandalm-first200.jsonl", "native",
        "The first 200 pairs of the PandaLM test set: two 7B models' answers to an instruction, three human "
        "annotators and two LLM judges (GPT-3.5-turbo, PandaLM-7B) on every pair.",
        overlap=3,
    ),
    DemoProject(
        "pandalm-thumbs-demo", "PandaLM thumbs (unpaired, for KTO)", "pandalm/pandalm-thumbs-first100.jsonl", "native",
        "Each response of the first 100 PandaLM pairs as a thumbs item: up from each annotator who preferred it, "
        "down from each who preferred the other (TRL's paired-to-unpaired conversion for KTO).",
        overlap=3, task_kinds=("thumbs",),
    ),
    DemoProject(
        "hh-demo", "Anthropic HH-RLHF (helpful-base, pairwise)", "hh_rlhf/helpful-base_test-first300.jsonl.gz", "hh",
        "The first 300 pairs of HH-RLHF helpful-base (test): one human preference per pair; a second opinion "
        "is wanted on each.",
        overlap=2, skip_invalid=True,
    ),
    DemoProject(
        "qa-feedback-demo", "QA-Feedback (listwise + edits)", "qa_feedback/dev_feedback-first50.jsonl", "native",
        "The first 50 questions of QA-Feedback (dev): four sampled answers ranked from six pairwise judgments, "
        "and a human correction of the first answer.",
        overlap=2, task_kinds=("listwise", "edit"),
    ),
    DemoProject(
        "lamp-demo", "LAMP (writers' edits + 3-way rankings)", "lamp/lamp-first20.jsonl", "native",
        "20 LLM-written paragraphs of LAMP: a writer's edit and an LLM's edit of each, and rankings of the "
        "AI-generated, human-edited and AI-edited texts by three named annotators.",
        overlap=3, task_kinds=("listwise", "edit"),
    ),
)

GUIDELINES = (
    "Read the prompt, then judge the responses as a careful user would: prefer the one that is more helpful, "
    "more honest and more harmless. Mark a tie only when neither is better; mark both bad when neither is "
    "acceptable. When editing, change as little as needed to make the response correct and well written."
)


@dataclass
class DemoReport:
    users_created: list[str] = field(default_factory=list)
    projects_created: list[str] = field(default_factory=list)
    imports: dict[str, ImportReport] = field(default_factory=dict)

    @property
    def changed_nothing(self) -> bool:
        return not (self.users_created or self.projects_created) and all(
            r.changed_nothing for r in self.imports.values()
        )


def _user_ensure(spec: DemoUser, report: DemoReport) -> AbstractBaseUser:
    """The demo user, created with its password on first use; an existing one is left as it is."""
    User = get_user_model()
    user = User.objects.filter(username=spec.username).first()
    if user is None:
        create = User.objects.create_superuser if spec.superuser else User.objects.create_user
        user = create(username=spec.username, password=spec.password, email="")
        report.users_created.append(spec.username)
    return user


def demo_load(*, data_dir: Path) -> DemoReport:
    """Create the demo users and projects and import the demo slices (idempotent).

    `data_dir` holds the slices named in DEMO_PROJECTS (the repository's demo/data/). Raises
    PrefStudioError when a slice is missing; a slice that fails to import rolls back everything.
    """
    data_dir = Path(data_dir)
    missing = [p.file for p in DEMO_PROJECTS if not (data_dir / p.file).is_file()]
    if missing:
        raise PrefStudioError(f"demo data not found in {data_dir}: {', '.join(missing)}", field="data_dir")
    report = DemoReport()
    with transaction.atomic():
        owner, annotator = (_user_ensure(spec, report) for spec in DEMO_USERS)
        for spec in DEMO_PROJECTS:
            project = Project.objects.filter(slug=spec.slug).first()
            if project is None:
                project = project_create(
                    slug=spec.slug, name=spec.name, owner=owner, description=spec.description,
                    guidelines=GUIDELINES, overlap=spec.overlap, task_kinds=list(spec.task_kinds),
                )
                report.projects_created.append(spec.slug)
            with open(data_dir / spec.file, "rb") as stream:
                report.imports[spec.slug] = data_import(
                    project_slug=spec.slug, fmt=spec.fmt, stream=stream, options=ImportOptions(),
                    skip_invalid=spec.skip_invalid, user=owner,
                )
            for user, role in ((owner, DEMO_OWNER.role), (annotator, DEMO_ANNOTATOR.role)):
                if not project.memberships.filter(user=user, role=role).exists():
                    membership_set(project=project, user=user, role=role)
    return report
