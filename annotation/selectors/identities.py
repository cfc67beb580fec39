"""Who may see who labeled what, and how each annotator is named for one viewer.

The one rule (`identities_visible`): in a blind project (`Project.blind_review`) only owners see who
labeled; reviewers and annotators see people as "annotator 1", "annotator 2", … — numbered per
project in the order of their first label there, so a pseudonym is stable from page to page and
from the API to an export, and says nothing about the same person in another project. Judges are
models, not people: they keep their names. A viewer always sees their own name.

Every surface that shows an annotator goes through `annotator_names_for` (or `AnnotatorNames.of_user`
for a request): names of labels, dashboards, agreement tables, raw-vote exports, and the stored text
and statistics of curation, which hold `{annotator:<id>}` tokens (annotation/curation/identities.py)
rendered here with `render` / `render_json`.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Min, Q

from ..curation.identities import render_annotators, render_annotators_json
from ..models import Annotator, AnnotatorKind, Label, Membership, Project, ProjectAnnotatorStats, Role

__all__ = ["AnnotatorNames", "annotator_names_for", "annotator_ids_shown_as", "identities_visible", "viewer_role"]

_UNSET: Any = object()


def identities_visible(*, project: Project, role: str | None) -> bool:
    """May a viewer with `role` in `project` see who labeled what? Yes in an open project; in a blind
    one only as an owner. `role` None is no member at all (or the command line: pass visible=True)."""
    return not project.blind_review or role == Role.OWNER


def viewer_role(*, project: Project, user: AbstractBaseUser | None) -> str | None:
    """The user's role in `project` (the `role` annotation of selectors.project_for_user when present)."""
    if user is None or not user.is_authenticated:
        return None
    role = getattr(project, "role", _UNSET)
    if role is _UNSET:
        role = Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()
    return role


@dataclass
class AnnotatorNames:
    """How one viewer sees the annotators of one project: `name(id)`, and stored text rendered for them."""

    project_id: int
    visible: bool
    viewer_user_id: int | None = None
    shown: dict[int, str] = field(default_factory=dict)

    def name(self, annotator_id: int) -> str:
        if annotator_id not in self.shown:
            self.shown[annotator_id] = self._outsider(annotator_id)
        return self.shown[annotator_id]

    def render(self, text: str) -> str:
        """Stored text (a noise reason) with its annotator tokens as this viewer may see them."""
        return render_annotators(text, self.name)

    def render_json(self, value: Any) -> Any:
        """A stored JSON value (statistics, provenance) with its annotator tokens rendered, keys included."""
        return render_annotators_json(value, self.name)

    def render_provenance(self, provenance: dict[str, Any]) -> dict[str, Any]:
        """A dataset row's provenance with its reasons rendered (the one field that names annotators).

        The export's hot path: a row without a token in its reasons is returned as it is (no copy, no walk).
        """
        reasons = provenance.get("reasons") if isinstance(provenance, dict) else None
        if not reasons or not any("{annotator:" in str(reason) for reason in reasons):
            return provenance
        return {**provenance, "reasons": [self.render(str(reason)) for reason in reasons]}

    def _outsider(self, annotator_id: int) -> str:
        """An annotator with no label in the project (any more): named by the same rule, never numbered."""
        row = Annotator.objects.filter(pk=annotator_id).values("name", "kind", "user_id").first()
        if row is None:
            return "a deleted annotator"
        if self.visible or row["kind"] == AnnotatorKind.JUDGE or (
                self.viewer_user_id is not None and row["user_id"] == self.viewer_user_id):
            return row["name"]
        return "a former annotator"


def annotator_names_for(
    *, project: Project, user: AbstractBaseUser | None, visible: bool | None = None
) -> AnnotatorNames:
    """The names of the project's annotators as `user` may see them (one query).

    `visible` overrides the rule (True for the command line and other operator tools, which have no user).
    """
    user_id = user.pk if user is not None and user.is_authenticated else None
    if visible is None:
        visible = identities_visible(project=project, role=viewer_role(project=project, user=user))
    if connection.vendor == "postgresql":  # the trigger-kept counts (models.stats): a few rows, not every label
        rows = (
            ProjectAnnotatorStats.objects.filter(project_id=project.pk, n__gt=0)
            .values("annotator_id", "annotator__name", "annotator__kind", "annotator__user_id")
            .annotate(first=Min("first_label_id"))
            .order_by("first")
        )
    else:
        rows = (
            Label.objects.filter(item__project_id=project.pk)
            .values("annotator_id", "annotator__name", "annotator__kind", "annotator__user_id")
            .annotate(first=Min("id"))
            .order_by("first")
        )
    names = AnnotatorNames(project_id=project.pk, visible=visible, viewer_user_id=user_id)
    n = 0
    for row in rows:
        is_human = row["annotator__kind"] == AnnotatorKind.HUMAN
        n += is_human
        own = user_id is not None and row["annotator__user_id"] == user_id
        hidden = is_human and not visible and not own
        names.shown[row["annotator_id"]] = f"annotator {n}" if hidden else row["annotator__name"]
    return names


def annotator_ids_shown_as(*, user: AbstractBaseUser, project_ids: Iterable[int], shown: str) -> Q:
    """A Label filter: labels whose annotator `user` sees named `shown` (a name or a pseudonym), per project."""
    match = Q(pk__in=[])
    for project in Project.objects.filter(pk__in=set(project_ids)):
        names = annotator_names_for(project=project, user=user)
        ids = [annotator_id for annotator_id, name in names.shown.items() if name == shown]
        if ids:
            match |= Q(item__project_id=project.pk, annotator_id__in=ids)
    return match
