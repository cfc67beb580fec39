"""The database's own rules: every CheckConstraint and UniqueConstraint of annotation and training.

Each case writes one violating row straight through the ORM (no service in between, on purpose)
and expects PostgreSQL to refuse it, naming the constraint. A test also checks that every
declared constraint has a case here, so a new constraint without one fails the suite.
"""

from datetime import timedelta

import pytest
from django.apps import apps
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotation.importing import records
from annotation.models import (
    Annotator,
    Assignment,
    DatasetRow,
    DatasetVersion,
    ImportRun,
    Item,
    ItemConsensus,
    ItemFlag,
    ItemResponse,
    Label,
    Membership,
    Project,
    ProjectAnnotatorStats,
    ProjectFigures,
    ProjectItemCounts,
    ProjectLabelHours,
    ProjectLabelTimes,
    Prompt,
    QueueCounter,
    QueueCursor,
    Response,
    RoutingDecision,
    RoutingModel,
)
from training.models import Job, JudgeTemplate, ModelArtifact

pytestmark = pytest.mark.django_db


class World:
    """A small valid world to break rules in: one project, prompt, pair item, two annotators."""

    def __init__(self, user, other_user) -> None:
        self.user, self.other_user = user, other_user
        self.project = Project.objects.create(slug="rules", name="rules")
        Membership.objects.create(project=self.project, user=user, role="owner")
        self.prompt = Prompt.objects.create(
            project=self.project, external_id="p1", messages=[{"role": "user", "content": "q"}]
        )
        self.a = Response.objects.create(prompt=self.prompt, external_id="a", text="answer a")
        self.b = Response.objects.create(prompt=self.prompt, external_id="b", text="answer b")
        self.item = self.make_item("i1", "pairwise", [self.a, self.b])
        self.human = Annotator.objects.create(name="ann", kind="human", user=user)
        self.judge = Annotator.objects.create(name="judge", kind="judge")
        self.first_label = Label.objects.create(item=self.item, annotator=self.human, kind="pairwise", winner="A")
        self.version = DatasetVersion.objects.create(project=self.project, number=1, config_hash="h")

    def make_item(self, external_id: str, kind: str, responses: list[Response], n: int | None = None) -> Item:
        item = Item.objects.create(
            project=self.project,
            prompt=self.prompt,
            external_id=external_id,
            kind=kind,
            n_responses=len(responses) if n is None else n,
        )
        for position, response in enumerate(responses):
            ItemResponse.objects.create(item=item, position=position, response=response)
        return item

    def label(self, **fields) -> Label:
        values = {"item": self.item, "annotator": self.judge, "kind": "pairwise", "winner": "B", **fields}
        return Label.objects.create(**values)

    def assignment(self, **fields) -> Assignment:
        expires = timezone.now() + timedelta(minutes=30)
        return Assignment.objects.create(item=self.item, annotator=self.human, expires_at=expires, **fields)


@pytest.fixture
def world(user, other_user) -> World:
    return World(user, other_user)


def _consensus(w, **fields):
    return ItemConsensus.objects.create(**{"item": w.item, "method": "majority", "winner": "A", "source": "human",
                                           **fields})


def _decision(w, **fields):
    values = {"project": w.project, "item": w.item, "run_id": "00000000-0000-0000-0000-000000000001",
              "policy": "rules", "routed_to": "human", "budget": 1, **fields}
    return RoutingDecision.objects.create(**values)


def _job(**fields):
    return Job.objects.create(**{"kind": "judge", **fields})


def _template(w, **fields):
    return JudgeTemplate.objects.create(**{"project": w.project, "mode": "pairwise", "version": 1, "text": "t", **fields})


def _artifact(**fields):
    return ModelArtifact.objects.create(**{"name": "m", "location": "/models/m", **fields})


# (constraint, case, write that violates it)
VIOLATIONS = [
    ("annotator_kind_valid", "kind robot", lambda w: Annotator.objects.create(name="r2", kind="robot")),
    (
        "annotator_judge_has_no_user",
        "judge with account",
        lambda w: Annotator.objects.create(name="j2", kind="judge", user=w.other_user),
    ),
    ("assignment_status_valid", "status lost", lambda w: w.assignment(status="lost")),
    ("assignment_one_active_per_annotator", "two live leases", lambda w: (w.assignment(), w.assignment())),
    (
        "dataset_row_index_unique",
        "index twice",
        lambda w: [DatasetRow.objects.create(version=w.version, index=0, kind="pairwise", data={}) for _ in range(2)],
    ),
    (
        "dataset_row_weight_nonnegative",
        "weight -1",
        lambda w: DatasetRow.objects.create(version=w.version, index=0, kind="pairwise", data={}, weight=-1),
    ),
    (
        "dataset_version_number_unique",
        "number twice",
        lambda w: DatasetVersion.objects.create(project=w.project, number=1, config_hash="h"),
    ),
    (
        "dataset_version_number_positive",
        "number 0",
        lambda w: DatasetVersion.objects.create(project=w.project, number=0, config_hash="h"),
    ),
    (
        "item_flag_unique",
        "flag twice",
        lambda w: [ItemFlag.objects.create(item=w.item, name="noise", reason="r") for _ in range(2)],
    ),
    ("project_overlap_positive", "overlap 0", lambda w: Project.objects.create(slug="o", name="o", overlap=0)),
    ("project_lease_positive", "lease 0", lambda w: Project.objects.create(slug="l", name="l", lease_minutes=0)),
    (
        "project_reference_use_valid",
        "reference use 'gold'",
        lambda w: Project.objects.create(slug="r", name="r", reference_use="gold"),
    ),
    (
        "project_attention_rate_range",
        "attention rate 1.5",
        lambda w: Project.objects.create(slug="a", name="a", attention_rate=1.5),
    ),
    (
        "project_budget_fraction_range",
        "fraction 1.5",
        lambda w: Project.objects.create(slug="f", name="f", human_budget_fraction=1.5),
    ),
    (
        "project_budget_fraction_range",
        "fraction -0.1",
        lambda w: Project.objects.create(slug="f", name="f", human_budget_fraction=-0.1),
    ),
    (
        "project_budget_one_kind",
        "fraction and count",
        lambda w: Project.objects.create(slug="b", name="b", human_budget_fraction=0.5, human_budget_count=10),
    ),
    (
        # The queue's counters are made by a trigger when the project is (8 shards): shard 0 exists already.
        "queuecounter_unique",
        "counter shard twice",
        lambda w: QueueCounter.objects.create(project=w.project, shard=0),
    ),
    (
        "queuecursor_unique",
        "cursor twice",
        lambda w: [QueueCursor.objects.create(annotator=w.judge, project=w.project) for _ in range(2)],
    ),
    (
        # The labels' trigger keeps a row for the world's first label already.
        "project_annotator_stats_unique",
        "stats row twice",
        lambda w: ProjectAnnotatorStats.objects.create(project=w.project, annotator=w.human, role=w.first_label.role,
                                                       n=1, first_label_id=w.first_label.pk),
    ),
    (
        # The items' trigger keeps a row for the world's item already.
        "project_item_counts_unique",
        "item counts row twice",
        lambda w: ProjectItemCounts.objects.create(project=w.project, kind=w.item.kind, state=w.item.state,
                                                   route=w.item.route, queued=w.item.queued, shard=w.item.pk % 16,
                                                   n=1),
    ),
    (
        "project_item_counts_n_nonnegative",
        "item count below zero",
        lambda w: ProjectItemCounts.objects.create(project=w.project, kind="edit", state="final", route="ai",
                                                   queued=False, n=-1),
    ),
    (
        "project_figures_unique",
        "figures twice",
        lambda w: [ProjectFigures.objects.create(project=w.project, name="references", signature="s", n_labels=1,
                                                 data=b"", computed_at=w.first_label.created_at) for _ in range(2)],
    ),
    (
        "project_label_hours_unique",
        "hour row twice",
        lambda w: [ProjectLabelHours.objects.create(project=w.project, annotator=w.judge, hour=w.first_label.created_at,
                                                    n=1) for _ in range(2)],
    ),
    (
        "project_label_hours_n_nonnegative",
        "hour count below zero",
        lambda w: ProjectLabelHours.objects.create(project=w.project, annotator=w.judge,
                                                   hour=w.first_label.created_at, n=-1),
    ),
    (
        "project_label_times_unique",
        "time row twice",
        lambda w: [ProjectLabelTimes.objects.create(project=w.project, annotator=w.judge, ms=5, n=1) for _ in range(2)],
    ),
    (
        "project_label_times_n_nonnegative",
        "time count below zero",
        lambda w: ProjectLabelTimes.objects.create(project=w.project, annotator=w.judge, ms=5, n=-1),
    ),
    (
        "routing_model_once",
        "router twice",
        lambda w: [RoutingModel.objects.create(project=w.project, fingerprint="f", kind="logistic", model=b"")
                   for _ in range(2)],
    ),
    (
        "membership_unique",
        "member twice",
        lambda w: Membership.objects.create(project=w.project, user=w.user, role="annotator"),
    ),
    (
        "membership_role_valid",
        "role boss",
        lambda w: Membership.objects.create(project=w.project, user=w.other_user, role="boss"),
    ),
    (
        "prompt_external_id_unique",
        "prompt id twice",
        lambda w: Prompt.objects.create(project=w.project, external_id="p1", messages=[]),
    ),
    (
        "response_external_id_unique",
        "response id twice",
        lambda w: Response.objects.create(prompt=w.prompt, external_id="a", text="other"),
    ),
    (
        "response_text_not_empty",
        "empty text",
        lambda w: Response.objects.create(prompt=w.prompt, external_id="e", text=""),
    ),
    (
        "response_origin_valid",
        "origin copied",
        lambda w: Response.objects.create(prompt=w.prompt, external_id="o", text="t", origin="copied"),
    ),
    (
        "response_edit_has_parent",
        "edit without parent",
        lambda w: Response.objects.create(prompt=w.prompt, external_id="e", text="t", origin="human_edit"),
    ),
    (
        "response_edit_has_parent",
        "parent but no edit",
        lambda w: Response.objects.create(prompt=w.prompt, external_id="e", text="t", parent=w.a),
    ),
    ("label_one_per_annotator", "second annotation", lambda w: w.label(annotator=w.human)),
    ("label_kind_valid", "kind essay", lambda w: w.label(kind="essay")),
    ("label_status_valid", "status lost", lambda w: w.label(status="lost")),
    ("label_role_valid", "role boss", lambda w: w.label(role="boss")),
    ("label_winner_valid", "winner C", lambda w: w.label(kind="listwise", ranking=[[0], [1]], winner="C")),
    ("label_strength_range", "strength 0", lambda w: w.label(strength=0)),
    ("label_strength_range", "strength 11", lambda w: w.label(strength=11)),
    ("label_probability_range", "probability 1.5", lambda w: w.label(probability=1.5)),
    ("label_probability_range", "probability -0.5", lambda w: w.label(probability=-0.5)),
    ("label_payload_matches_kind", "pairwise without winner", lambda w: w.label(winner="")),
    ("label_payload_matches_kind", "listwise without ranking", lambda w: w.label(kind="listwise", winner="")),
    ("label_payload_matches_kind", "edit without edited response", lambda w: w.label(kind="edit", winner="")),
    ("label_payload_matches_kind", "thumbs without thumbs", lambda w: w.label(kind="thumbs", winner="")),
    (
        "label_idempotency_key_unique",
        "key twice",
        lambda w: (w.label(idempotency_key="k1"), w.label(annotator=w.human, role="review", idempotency_key="k1")),
    ),
    (
        "item_response_position_unique",
        "position twice",
        lambda w: ItemResponse.objects.create(item=w.item, position=1, response=w.a),
    ),
    ("item_external_id_unique", "item id twice", lambda w: w.make_item("i1", "pairwise", [w.a, w.b])),
    ("item_kind_valid", "kind essay", lambda w: w.make_item("k", "essay", [w.a])),
    ("item_state_valid", "state lost", lambda w: Item.objects.filter(pk=w.item.pk).update(state="lost")),
    ("item_route_valid", "route nowhere", lambda w: Item.objects.filter(pk=w.item.pk).update(route="nowhere")),
    ("item_source_valid", "source crowd", lambda w: Item.objects.filter(pk=w.item.pk).update(source="crowd")),
    ("item_responses_match_kind", "pairwise of 3", lambda w: w.make_item("k", "pairwise", [w.a, w.b, w.a])),
    ("item_responses_match_kind", "edit of 2", lambda w: w.make_item("k", "edit", [w.a, w.b])),
    ("item_responses_match_kind", "thumbs of 0", lambda w: w.make_item("k", "thumbs", [])),
    ("item_responses_match_kind", "listwise of 1", lambda w: w.make_item("k", "listwise", [w.a])),
    ("item_responses_match_kind", "listwise of 17", lambda w: w.make_item("k", "listwise", [], n=17)),
    ("consensus_source_valid", "source crowd", lambda w: _consensus(w, source="crowd")),
    ("consensus_winner_valid", "winner both_bad", lambda w: _consensus(w, winner="both_bad")),
    ("consensus_one_verdict", "no verdict", lambda w: _consensus(w, winner="")),
    ("consensus_one_verdict", "winner and ranking", lambda w: _consensus(w, ranking=[[0], [1]])),
    ("consensus_probability_range", "probability 1.2", lambda w: _consensus(w, probability=1.2)),
    ("consensus_agreement_range", "agreement -1.5", lambda w: _consensus(w, agreement=-1.5)),
    ("consensus_noise_range", "noise 2", lambda w: _consensus(w, noise_score=2)),
    ("routing_decision_once_per_run", "item twice in a run", lambda w: (_decision(w), _decision(w))),
    ("routing_decision_route_valid", "routed to pending", lambda w: _decision(w, routed_to="pending")),
    ("routing_decision_policy_valid", "policy dice", lambda w: _decision(w, policy="dice")),
    (
        "import_run_state_valid",
        "state lost",
        lambda w: ImportRun.objects.create(project_slug="p", format="trl", file_path="f", file_bytes=1, state="lost"),
    ),
    ("artifact_kind_valid", "kind tokenizer", lambda w: _artifact(kind="tokenizer")),
    # Any lowercase name passes the CHECK (the backends' table is checked in code, so a backend needs no migration).
    ("artifact_backend_valid", "backend TPU!", lambda w: _artifact(backend="TPU!")),
    ("artifact_name_unique_in_project", "a name twice in a project",
     lambda w: (_artifact(project=w.project), _artifact(project=w.project))),
    ("artifact_global_name_unique", "a name twice among global models", lambda w: (_artifact(), _artifact())),
    ("job_progress_range", "progress -1", lambda w: _job(progress=-1)),
    ("job_progress_range", "progress 100.5", lambda w: _job(progress=100.5)),
    ("job_state_valid", "state lost", lambda w: _job(state="lost")),
    ("job_kind_valid", "kind dance", lambda w: _job(kind="dance")),
    ("judge_template_version_unique", "version twice", lambda w: (_template(w), _template(w))),
    ("judge_template_mode_valid", "mode essay", lambda w: _template(w, mode="essay")),
    ("judge_template_version_positive", "version 0", lambda w: _template(w, version=0)),
]


@pytest.mark.parametrize(
    ("constraint", "write"), [(c, w) for c, _, w in VIOLATIONS], ids=[f"{c}: {d}" for c, d, _ in VIOLATIONS]
)
def test_a_violating_row_is_refused_by_the_database(world, constraint, write):
    with pytest.raises(IntegrityError, match=f'constraint "{constraint}"'), transaction.atomic():
        write(world)


def test_every_declared_constraint_has_a_violation_case():
    declared = {
        constraint.name
        for app in ("annotation", "training")
        for model in apps.get_app_config(app).get_models()
        for constraint in model._meta.constraints
    }
    assert declared == {name for name, _, _ in VIOLATIONS}


ACCEPTED = [
    ("one model name in a project and among the global models",
     lambda w: (_artifact(project=w.project), _artifact())),
    ("a review beside the annotation of the same annotator", lambda w: w.label(annotator=w.human, role="review")),
    ("an unparsable judge label without a verdict", lambda w: w.label(winner="", status="unparsable", raw_output="??")),
    ("labels without idempotency keys", lambda w: (w.label(), w.label(annotator=w.human, role="review"))),
    (
        "a listwise label with a ranking",
        lambda w: w.label(
            item=w.make_item("l", "listwise", [w.a, w.b]), kind="listwise", winner="", ranking=[[1], [0]]
        ),
    ),
    (
        "an edit response naming its parent",
        lambda w: Response.objects.create(prompt=w.prompt, external_id="e", text="t", origin="human_edit", parent=w.a),
    ),
    ("a new lease once the last one expired", lambda w: (w.assignment(status="expired"), w.assignment())),
    (
        "budget fractions 0 and 1",
        lambda w: [Project.objects.create(slug=f"b{f}", name="b", human_budget_fraction=f) for f in (0, 1)],
    ),
    ("a 16-response listwise item", lambda w: w.make_item("k", "listwise", [], n=16)),
    ("a listwise consensus with a negative agreement",
     lambda w: _consensus(w, winner="", ranking=[[1], [0]], agreement=-1, probability=None)),
    ("the same item in two routing runs",
     lambda w: (_decision(w), _decision(w, run_id="00000000-0000-0000-0000-000000000002", routed_to="ai"))),
    ("job progress 0 and 100", lambda w: (_job(progress=0), _job(progress=100))),
]


@pytest.mark.parametrize("write", [w for _, w in ACCEPTED], ids=[d for d, _ in ACCEPTED])
def test_rows_at_the_edge_of_a_rule_are_accepted(world, write):
    write(world)


def test_the_parsers_limits_are_the_column_sizes():
    """The Django-free parser checks ids and names against these sizes; they must not drift."""
    size = {
        "prompt id": Prompt._meta.get_field("external_id").max_length,
        "response id": Response._meta.get_field("external_id").max_length,
        "item id": Item._meta.get_field("external_id").max_length,
        "model": Response._meta.get_field("model_name").max_length,
        "annotator": Annotator._meta.get_field("name").max_length,
    }
    assert size == {
        "prompt id": records.MAX_ID_LENGTH,
        "response id": records.MAX_ID_LENGTH,
        "item id": records.MAX_ID_LENGTH,
        "model": records.MAX_MODEL_LENGTH,
        "annotator": records.MAX_ANNOTATOR_LENGTH,
    }
