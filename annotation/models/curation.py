"""What curation writes back per item: the consensus of its labels, and the routing decisions taken on it.

Noise flags are not here: a noise signal that flags an item is an ItemFlag named "noise:<signal>", so the
review queue shows it like every other flag. Both tables are rewritten by their services
(annotation.services.curation, annotation.services.routing), never edited by hand.
"""
from django.db import models
from django.db.models import Q

from .choices import ConsensusSource, Route, RoutingPolicy, Winner
from .item import Item
from .project import Project

# A consensus names a pairwise winner among these, never "both bad" (it aggregates to a tie).
CONSENSUS_WINNERS = (Winner.A, Winner.B, Winner.TIE)


class ItemConsensus(models.Model):
    """The aggregated verdict of one item, replaced on every consensus refresh.

    Pairwise items have `winner`; listwise items have `ranking` (tie groups of positions, best first).
    `probability` is the aggregator's posterior of the winner (pairwise only); `agreement` is the share of
    votes equal to the winner (pairwise, 0..1) or the mean Kendall tau-b of the votes against the consensus
    order (listwise, -1..1). `signals` holds every noise signal's value ({name: float}, NaN left out);
    `noise_score` is the combined score in [0, 1] (annotation.curation.noise documents the formula).
    """

    item = models.OneToOneField(Item, on_delete=models.CASCADE, related_name="consensus")
    method = models.CharField(max_length=32, help_text="majority, dawid_skene, mace, plackett_luce, ...")
    winner = models.CharField(max_length=8, blank=True, help_text="Pairwise: A, B or tie.")
    ranking = models.JSONField(null=True, blank=True, help_text="Listwise: tie groups of positions, best first.")
    probability = models.FloatField(null=True, blank=True)
    agreement = models.FloatField(null=True, blank=True)
    source = models.CharField(max_length=8, choices=ConsensusSource.choices)
    n_votes = models.PositiveIntegerField(default=0)
    noise_score = models.FloatField(null=True, blank=True)
    signals = models.JSONField(default=dict, blank=True, help_text='{"annotator_disagreement": 0.5, ...}')
    # Each signal's severity in [0, 1] (0 = clean, 1 = as noisy as that signal says): the common scale that
    # numeric drop rules compare against, whatever the signal's own unit and direction.
    severities = models.JSONField(default=dict, blank=True, help_text='{"annotator_disagreement": 1.0, ...}')
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "item consensus"
        constraints = [
            models.CheckConstraint(condition=Q(source__in=ConsensusSource.values), name="consensus_source_valid"),
            models.CheckConstraint(
                condition=Q(winner="") | Q(winner__in=CONSENSUS_WINNERS), name="consensus_winner_valid"
            ),
            # Exactly one verdict: a pairwise winner or a listwise ranking.
            models.CheckConstraint(
                condition=(~Q(winner="") & Q(ranking__isnull=True)) | (Q(winner="") & Q(ranking__isnull=False)),
                name="consensus_one_verdict",
            ),
            models.CheckConstraint(
                condition=Q(probability__isnull=True) | Q(probability__gte=0, probability__lte=1),
                name="consensus_probability_range",
            ),
            models.CheckConstraint(
                condition=Q(agreement__isnull=True) | Q(agreement__gte=-1, agreement__lte=1),
                name="consensus_agreement_range",
            ),
            models.CheckConstraint(
                condition=Q(noise_score__isnull=True) | Q(noise_score__gte=0, noise_score__lte=1),
                name="consensus_noise_range",
            ),
        ]

    def __str__(self) -> str:
        return f"consensus of {self.item_id}: {self.winner or self.ranking} ({self.source})"


class RoutingDecision(models.Model):
    """Who labels an item, as decided by one routing run (`run_id`) under a policy and a human budget.

    `predicted_gain` is the expected benefit of a human label (the learned policy's regression, a rule
    score, or a random draw for the random baseline); `features` are the item features it was computed
    from ({name: float}); `budget` is the number of items the run could send to people.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="routing_decisions")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="routing_decisions")
    run_id = models.UUIDField(help_text="One id per routing run; all its decisions share it.")
    policy = models.CharField(max_length=16, choices=RoutingPolicy.choices)
    routed_to = models.CharField(max_length=8, choices=Route.choices)
    predicted_gain = models.FloatField(null=True, blank=True)
    features = models.JSONField(default=dict, blank=True)
    budget = models.PositiveIntegerField(help_text="Items this run could send to people.")
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run_id", "item"], name="routing_decision_once_per_run"),
            models.CheckConstraint(
                condition=Q(routed_to__in=[Route.HUMAN, Route.AI]), name="routing_decision_route_valid"
            ),
            models.CheckConstraint(
                condition=Q(policy__in=RoutingPolicy.values), name="routing_decision_policy_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["project", "-created_at"], name="routing_project_recent_idx"),
            models.Index(fields=["item", "-created_at"], name="routing_item_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} → {self.routed_to} ({self.policy})"


class RoutingRun(models.Model):
    """One routing run: what it was asked and its report (annotation.services.routing.routing_run's result,
    with the cross-fitted gain), so the curation page shows the latest run's out-of-sample figures."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="routing_runs")
    run_id = models.UUIDField(unique=True, help_text="The run id its RoutingDecisions share.")
    policy = models.CharField(max_length=16, choices=RoutingPolicy.choices)
    report = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["project", "-created_at"], name="routing_run_recent_idx")]


class RoutingModel(models.Model):
    """A fitted routing gain model (annotation.curation.routing.GainModel, pickled), reused while what it learned
    from is unchanged: `fingerprint` = sha256 of its training rows, targets, columns and seed."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="routing_models")
    fingerprint = models.CharField(max_length=64)
    kind = models.CharField(max_length=16)
    model = models.BinaryField()
    info = models.JSONField(default=dict, help_text="kind, cv_auroc, training_items, crossfit")
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "fingerprint"], name="routing_model_once")]


class EmbeddingCache(models.Model):
    """A response text's embedding, keyed by sha256 of (embedder, text): a text embedded once is never embedded
    again by the same embedder (annotation.services.embedding_cache). Holds vectors, no text."""

    digest = models.CharField(max_length=64, primary_key=True)
    vector = models.BinaryField(help_text="float32 little-endian")
    created_at = models.DateTimeField(auto_now_add=True)
