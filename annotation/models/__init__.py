"""The annotation domain: projects, prompts, responses, items, annotators, labels, leases, datasets."""
from .annotator import Annotator
from .assignment import Assignment
from .choices import (
    AnnotatorKind,
    AssignmentStatus,
    ConsensusSource,
    ItemState,
    LabelRole,
    LabelSource,
    LabelStatus,
    ReferenceUse,
    ResponseOrigin,
    Role,
    Route,
    RoutingPolicy,
    TaskKind,
    Winner,
)
from .content import Prompt, Response
from .curation import EmbeddingCache, ItemConsensus, RoutingDecision, RoutingModel, RoutingRun
from .dataset import DatasetRow, DatasetVersion, DroppedItem
from .import_run import ImportRun, ImportRunState
from .item import Item, ItemFlag, ItemResponse
from .label import Label
from .project import Membership, Project
from .queue import QueueCounter, QueueCursor, QueueSlot
from .stats import ProjectAnnotatorStats, ProjectFigures, ProjectItemCounts, ProjectLabelHours, ProjectLabelTimes

__all__ = [
    "Annotator",
    "AnnotatorKind",
    "Assignment",
    "AssignmentStatus",
    "ConsensusSource",
    "DatasetRow",
    "DroppedItem",
    "DatasetVersion",
    "ImportRun",
    "ImportRunState",
    "Item",
    "ItemConsensus",
    "ItemFlag",
    "ItemResponse",
    "ReferenceUse",
    "ItemState",
    "Label",
    "LabelRole",
    "LabelSource",
    "LabelStatus",
    "Membership",
    "ProjectAnnotatorStats",
    "ProjectFigures",
    "ProjectItemCounts",
    "ProjectLabelHours",
    "ProjectLabelTimes",
    "Project",
    "Prompt",
    "QueueCounter",
    "QueueCursor",
    "QueueSlot",
    "Response",
    "ResponseOrigin",
    "Role",
    "Route",
    "RoutingDecision",
    "RoutingModel",
    "RoutingRun",
    "EmbeddingCache",
    "RoutingPolicy",
    "TaskKind",
    "Winner",
]
