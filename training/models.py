from django.conf import settings
from django.db import models
from django.db.models import Q

from .engine.backends.registry import NAME_PATTERN as BACKEND_NAME_PATTERN
from .engine.backends.registry import backend_choices, backend_entry
from .engine.trainers.registry import KIND_PREFIX, trainer_spec, trainer_specs


class ArtifactKind(models.TextChoices):
    BASE = "base", "Base / policy model"
    REWARD = "reward", "Reward model"
    ADAPTER = "adapter", "LoRA adapter"


class Backend(models.TextChoices):
    # The built-in backends' names, for code and tests. What makes a backend (its label, engine class, queue,
    # remote or local) is its BackendEntry in training/engine/backends/registry.py: a new one adds no member here,
    # and ModelArtifact.backend's choices are the table's (backend_choices).
    VLLM = "vllm", backend_entry("vllm").label
    OPENAI = "openai", backend_entry("openai").label
    HF = "hf", backend_entry("hf").label


class JobKind(models.TextChoices):
    GENERATE = "generate", "Generate responses"
    JUDGE = "judge", "Judge with an LLM"
    # The built-in trainers' kinds, as names for code and tests. What makes a kind a trainer (its label, rows,
    # config, engine) is its TrainerSpec in training/engine/trainers/registry.py: a new trainer adds no member here.
    TRAIN_RM = "train_rm", trainer_spec("train_rm").job_label
    TRAIN_DPO = "train_dpo", trainer_spec("train_dpo").job_label
    TRAIN_LISTWISE = "train_listwise", trainer_spec("train_listwise").job_label
    TRAIN_KTO = "train_kto", trainer_spec("train_kto").job_label
    EVALUATE = "evaluate", "Evaluate"
    CURATE = "curate", "Curation run"
    ROUTE = "route", "Routing run"
    # Sleeps through N steps reporting progress and metrics: proves a queue's workers are alive.
    DIAGNOSTIC = "diagnostic", "Diagnostic (worker check)"


def job_kind_choices() -> list[tuple[str, str]]:
    """Every job kind with its label: JobKind's and every registered trainer's, so a trainer registered later
    (its TrainerSpec) is a kind of Job.kind, the API and the job filters at once. A callable: the migrations
    store a reference to it, not the list, and a new trainer needs no migration."""
    choices = dict(JobKind.choices)
    choices.update((spec.kind, spec.job_label) for spec in trainer_specs())
    return list(choices.items())


# Job.kind's CHECK: the kinds of JobKind that are not trainers, or any trainer kind ("train_..."). A trainer's
# exact kind is checked in code (job_start asks the job registry) so that adding one needs no migration.
NON_TRAINER_KINDS = [kind for kind in JobKind.values if not kind.startswith(KIND_PREFIX)]


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class ModelArtifact(models.Model):
    """A base or trained model, usable as a generator, a judge or a reward model.

    A model belongs to a project, whose jobs alone may use it; a model of no project is global (registered by
    staff or an operator) and usable by every project. Names are unique within a project, and among globals.
    """

    Kind = ArtifactKind
    Backend = Backend

    name = models.CharField(max_length=200)
    project = models.ForeignKey(
        "annotation.Project", null=True, blank=True, on_delete=models.CASCADE, related_name="models",
        help_text="The project whose jobs may use it; empty = a global model (staff only) every project may use.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=ArtifactKind.choices, default=ArtifactKind.BASE)
    backend = models.CharField(max_length=16, choices=backend_choices, default=Backend.HF)
    location = models.CharField(max_length=500, help_text="Local path, hub id or server URL.")
    settings = models.JSONField(default=dict, blank=True)
    produced_by = models.ForeignKey("Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="outputs")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=ArtifactKind.values), name="artifact_kind_valid"),
            # Any backend-shaped name: the exact name is checked in code (model_artifact_register asks the backends'
            # table), so that adding a backend needs no migration.
            models.CheckConstraint(condition=Q(backend__regex=rf"^{BACKEND_NAME_PATTERN}$"),
                                   name="artifact_backend_valid"),
            models.UniqueConstraint(fields=["project", "name"], name="artifact_name_unique_in_project"),
            models.UniqueConstraint(fields=["name"], condition=Q(project__isnull=True),
                                    name="artifact_global_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class Job(models.Model):
    """One run of generation, judging, training or evaluation. This row is the truth about the job."""

    Kind = JobKind
    State = JobState

    kind = models.CharField(max_length=16, choices=job_kind_choices)
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED)
    project = models.ForeignKey("annotation.Project", null=True, blank=True, on_delete=models.CASCADE)
    dataset_version = models.ForeignKey(
        "annotation.DatasetVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="jobs"
    )
    config = models.JSONField(default=dict, help_text="asdict() of the kind's config dataclass.")
    progress = models.FloatField(default=0.0, help_text="0-100")
    message = models.CharField(max_length=500, blank=True)
    eta_seconds = models.FloatField(null=True, blank=True)
    metrics = models.JSONField(default=list, blank=True, help_text="[{step, name: value, ...}, ...]")
    log_tail = models.TextField(blank=True)
    artifacts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    worker_host = models.CharField(max_length=200, blank=True)
    celery_task_id = models.CharField(max_length=64, blank=True)
    cancel_requested = models.BooleanField(default=False)
    # Runs started so far; a run after a worker loss is attempt 2 (training.services.jobs: job_run).
    attempts = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # When the current Celery message (celery_task_id) was sent: a job queued this long whose message the broker
    # no longer holds has lost it, and the reaper sends it again (training.services.jobs: jobs_resend_lost).
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(progress__gte=0, progress__lte=100), name="job_progress_range"),
            models.CheckConstraint(condition=Q(state__in=JobState.values), name="job_state_valid"),
            models.CheckConstraint(condition=Q(kind__in=NON_TRAINER_KINDS) | Q(kind__startswith=KIND_PREFIX),
                                   name="job_kind_valid"),
        ]
        indexes = [models.Index(fields=["state", "kind"], name="job_state_kind_idx")]

    def __str__(self) -> str:
        return f"{self.kind} job {self.pk} ({self.state})"


class JudgeTemplateMode(models.TextChoices):
    """What a judge template asks (training.engine.judging.templates lists each mode's placeholders)."""

    PAIRWISE = "pairwise", "Pairwise verdict"
    RATING = "rating", "Rating 1-10"
    CHECKLIST_WRITE = "checklist_write", "Write a checklist"
    CHECKLIST_CHECK = "checklist_check", "Check one checklist item"


class JudgeTemplate(models.Model):
    """One version of a project's judge prompt. Editing adds a version; a judge names the version it used,
    so a verdict can always be traced to the exact words that asked for it."""

    Mode = JudgeTemplateMode

    project = models.ForeignKey("annotation.Project", on_delete=models.CASCADE, related_name="judge_templates")
    mode = models.CharField(max_length=16, choices=JudgeTemplateMode.choices)
    name = models.CharField(max_length=100, default="default")
    version = models.PositiveIntegerField()
    text = models.TextField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "mode", "name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["project", "mode", "name", "version"], name="judge_template_version_unique"),
            models.CheckConstraint(condition=Q(mode__in=JudgeTemplateMode.values), name="judge_template_mode_valid"),
            models.CheckConstraint(condition=Q(version__gte=1), name="judge_template_version_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.mode} template {self.name} v{self.version} ({self.project_id})"
