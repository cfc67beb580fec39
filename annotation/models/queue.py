"""The labeling queue's hot-path tables (issue 13): open slots, per-annotator cursors, sharded counters.

All three are derived from the items, projects and labels and kept up to date by PostgreSQL triggers
(migration 0005_loop_slots): the application never writes them directly except through the queue's
stored functions. `ps_queue_rebuild(project_id)` recomputes a project's rows from its items, which stay the
source of truth (nothing here lives only in Redis or in a process).

    QueueSlot     one row per open slot of an item that people may still take (overlap − labels − live leases,
                  for open items not routed to AI only). `next` walks two partial indexes with
                  `FOR UPDATE SKIP LOCKED LIMIT 1` instead of sorting the project's items:
                  started slots (started_seq set, first started first) before fresh ones (priority, id).
    QueueCursor   per annotator and project: how far the annotator has walked the started slots (a slot passed
                  is one they labeled, skipped or hold: never theirs again) and how many labels they gave
                  (mine_done), so neither is counted per call.
    QueueCounter  per project, 8 shards (item id mod 8) so that concurrent submits rarely share a row: human labels
                  still wanted (project_left) and items with a free slot (the API's mine_left, an upper bound).
"""
from django.db import models
from django.db.models import F, Q

from .annotator import Annotator
from .item import Item
from .project import Project

COUNTER_SHARDS = 8


class QueueSlot(models.Model):
    id = models.BigAutoField(primary_key=True)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="+")
    # Set (from the sequence ps_queue_started_seq) once the item is started (a label or a lease), or when a slot
    # comes back (skip, expiry): those come first, oldest first. Null: a fresh item, in priority order.
    started_seq = models.BigIntegerField(null=True)
    priority = models.FloatField(default=0.0)

    class Meta:
        indexes = [
            models.Index(fields=["project", "started_seq"], condition=Q(started_seq__isnull=False),
                         name="queueslot_started_idx"),
            models.Index(F("project"), F("priority").desc(), F("item"), condition=Q(started_seq__isnull=True),
                         name="queueslot_fresh_idx"),
        ]


class QueueCursor(models.Model):
    annotator = models.ForeignKey(Annotator, on_delete=models.CASCADE, related_name="+", db_index=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    started_seq = models.BigIntegerField(default=0)
    n_done = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["annotator", "project"], name="queuecursor_unique")]


class QueueCounter(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    shard = models.SmallIntegerField()
    wanted = models.BigIntegerField(default=0)
    free_items = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "shard"], name="queuecounter_unique")]
