"""Enumerations shared by the models, services, importers and API.

The string values are the wire format (JSONL imports, REST) as well as the database values,
so they never change once released.
"""
from django.db import models


class TaskKind(models.TextChoices):
    PAIRWISE = "pairwise", "Pairwise"
    LISTWISE = "listwise", "Listwise (ranking)"
    EDIT = "edit", "Edit"
    THUMBS = "thumbs", "Thumbs up / down"


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    REVIEWER = "reviewer", "Reviewer"
    ANNOTATOR = "annotator", "Annotator"


class AnnotatorKind(models.TextChoices):
    HUMAN = "human", "Human"
    JUDGE = "judge", "LLM judge"


class ResponseOrigin(models.TextChoices):
    IMPORTED = "imported", "Imported"
    GENERATED = "generated", "Generated"
    HUMAN_EDIT = "human_edit", "Human edit"


class ItemState(models.TextChoices):
    NEW = "new", "New"
    JUDGED = "judged", "Judged"
    ROUTED = "routed", "Routed"
    LABELING = "labeling", "Labeling"
    LABELED = "labeled", "Labeled"
    IN_REVIEW = "in_review", "In review"
    FINAL = "final", "Final"
    EXCLUDED = "excluded", "Excluded"


class Route(models.TextChoices):
    """Who labels an item: undecided, people, or the AI judges only."""

    PENDING = "pending", "Not routed yet"
    HUMAN = "human", "Human"
    AI = "ai", "AI only"


class LabelSource(models.TextChoices):
    """Which kinds of annotator have labeled an item so far."""

    NONE = "", "No labels"
    HUMAN = "human", "Human"
    AI = "ai", "AI"
    HYBRID = "hybrid", "Human and AI"


class ConsensusSource(models.TextChoices):
    """Whose verdicts decided an item's consensus; "gold" is a reviewer's resolution."""

    HUMAN = "human", "Human"
    AI = "ai", "AI"
    HYBRID = "hybrid", "Human and AI"
    GOLD = "gold", "Reviewer (gold)"


class Winner(models.TextChoices):
    A = "A", "A is better"
    B = "B", "B is better"
    TIE = "tie", "Tie"
    BOTH_BAD = "both_bad", "Both bad"


class LabelStatus(models.TextChoices):
    OK = "ok", "Parsed"
    UNPARSABLE = "unparsable", "Unparsable judge output"


class LabelRole(models.TextChoices):
    ANNOTATION = "annotation", "Annotation"
    REVIEW = "review", "Reviewer resolution"


class RoutingPolicy(models.TextChoices):
    ALL_HUMAN = "all_human", "Every item to people"
    RULES = "rules", "Rules (judge uncertain / inconsistent / disagreeing)"
    LEARNED = "learned", "Learned gain model"
    RANDOM = "random", "Random"
    AI_ONLY = "ai_only", "AI judges only"


class ReferenceUse(models.TextChoices):
    """What an item's reference verdict (a known answer) is for, per project."""

    EVALUATION = "evaluation", "Evaluation only (never shown, never used by curation; only to score)"
    CALIBRATION = "calibration", "Calibration (aggregation and the noise score may learn from it)"
    ATTENTION = "attention", "Attention check (served to annotators at a set rate, and scored)"


class AssignmentStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUBMITTED = "submitted", "Submitted"
    SKIPPED = "skipped", "Skipped"
    EXPIRED = "expired", "Expired"


# How many responses an item of each kind shows: (min, max). Listwise pages handle 2-8, but an
# imported ranking may carry more (UltraFeedback has 4, some sets 16); the database allows 16.
RESPONSES_PER_KIND = {
    TaskKind.PAIRWISE: (2, 2),
    TaskKind.LISTWISE: (2, 16),
    TaskKind.EDIT: (1, 1),
    TaskKind.THUMBS: (1, 1),
}
