from django.conf import settings
from django.db import models
from django.db.models import Q


class ArtifactKind(models.TextChoices):
    BASE = "base", "Base / policy model"
    REWARD = "reward", "Reward model"
    ADAPTER = "adapter", "LoRA adapter"


class Backend(models.TextChoices):
    VLLM = "vllm", "vLLM (in the GPU worker)"
    OPENAI = "openai", "OpenAI-compatible server"
    HF = "hf", "transformers (CPU)"


class JobKind(models.TextChoices):
    GENERATE = "generate", "Generate responses"
    JUDGE = "judge", "Judge with an LLM"
    TRAIN_RM = "train_rm", "Train a reward model"
    TRAIN_DPO = "train_dpo", "Train with DPO"
    TRAIN_LISTWISE = "train_listwise", "Train with a listwise loss"
    TRAIN_KTO = "train_kto", "Train with KTO"
    EVALUATE = "evaluate", "Evaluate"
    CURATE = "curate", "Curation run"
    # Sleeps through N steps reporting progress and metrics: proves a queue's workers are alive.
    DIAGNOSTIC = "diagnostic", "Diagnostic (worker check)"


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
    backend = models.CharField(max_length=16, choices=Backend.choices, default=Backend.HF)
    location = models.CharField(max_length=500, help_text="Local path, hub id or server URL.")
    settings = models.JSONField(default=dict, blank=True)
    produced_by = models.ForeignKey("Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="outputs")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=ArtifactKind.values), name="artifact_kind_valid"),
            models.CheckConstraint(condition=Q(backend__in=Backend.values), name="artifact_backend_valid"),
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

    kind = models.CharField(max_length=16, choices=JobKind.choices)
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
            models.CheckConstraint(condition=Q(kind__in=JobKind.values), name="job_kind_valid"),
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
