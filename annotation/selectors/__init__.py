"""Reads: what a user may see. Every selector filters by membership, so views and the API never do.

The rules: a user sees only the projects they are a member of. Owners and reviewers of a
project see all of its labels; an annotator sees only their own labels (judges' included: a
judge is an annotator too) and only their own edits among the edited responses.
"""
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Case, Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value, When

from ..errors import NotFound
from ..models import (Item, ItemResponse, ItemState, Label, Membership, Project, ProjectItemCounts, Prompt, Response,
                      ResponseOrigin, Role)
from . import counters

SEE_ALL_LABELS = (Role.OWNER, Role.REVIEWER)


def _project_ids(user: AbstractBaseUser, roles: tuple[str, ...] | None = None) -> QuerySet:
    """A subquery of the ids of the projects where `user` has one of `roles` (any role if None)."""
    memberships = Membership.objects.filter(user=user)
    if roles is not None:
        memberships = memberships.filter(role__in=roles)
    return memberships.values("project_id")


# -- projects ---------------------------------------------------------------------------------------
def projects_for_user(*, user: AbstractBaseUser) -> QuerySet[Project]:
    """The user's projects, each annotated with `role` (the user's role in it)."""
    role = Membership.objects.filter(project=OuterRef("pk"), user=user).values("role")[:1]
    return Project.objects.filter(pk__in=_project_ids(user)).annotate(role=Subquery(role)).order_by("slug")


def project_for_user(*, user: AbstractBaseUser, slug: str) -> Project:
    """One of the user's projects, with `role`; NotFound for a project they are not a member of."""
    project = projects_for_user(user=user).filter(slug=slug).first()
    if project is None:
        raise NotFound(f"no project {slug!r} among yours", field="slug")
    return project


def project_role(*, user: AbstractBaseUser, slug: str) -> str | None:
    """The user's role in project `slug`, or None if they are not a member (or it does not exist)."""
    return Membership.objects.filter(user=user, project__slug=slug).values_list("role", flat=True).first()


def project_members(*, project: Project) -> list[Membership]:
    """The project's memberships with their users: owners first, then reviewers, then annotators, by username.

    Precondition: the caller may manage the project (the members page checks that the user owns it)."""
    rank = Case(*(When(role=role, then=Value(i)) for i, role in enumerate(Role.values)), default=Value(9))
    return list(Membership.objects.filter(project=project).select_related("user")
                .annotate(rank=rank).order_by("rank", "user__username"))


@dataclass(frozen=True)
class ProjectSummary:
    project: Project
    role: str
    role_label: str
    n_items: int
    # (state label, number of items) for every state that has items, in the order of the workflow.
    states: list[tuple[str, int]]


def project_summaries_for_user(*, user: AbstractBaseUser) -> list[ProjectSummary]:
    """The user's projects with their role and item counts by state (two queries in all). On PostgreSQL the
    counts are the trigger-kept ProjectItemCounts rows (a few per project: 236 ms -> a few ms for a project of a
    million items, bench/RESULTS.md); elsewhere the items are counted."""
    projects = list(projects_for_user(user=user))
    counts: dict[int, dict[str, int]] = {p.pk: {} for p in projects}
    if counters.kept():
        rows = (ProjectItemCounts.objects.filter(project__in=projects, n__gt=0).values("project_id", "state")
                .annotate(n=Sum("n")))
    else:
        rows = Item.objects.filter(project__in=projects).values("project_id", "state").annotate(n=Count("id"))
    for row in rows.order_by():
        if row["n"]:
            counts[row["project_id"]][row["state"]] = int(row["n"])
    return [
        ProjectSummary(
            project=p,
            role=p.role,
            role_label=Role(p.role).label,
            n_items=sum(counts[p.pk].values()),
            states=[(label, counts[p.pk][value]) for value, label in ItemState.choices if counts[p.pk].get(value)],
        )
        for p in projects
    ]


# -- prompts, responses, items ----------------------------------------------------------------------
def prompts_for_user(*, user: AbstractBaseUser) -> QuerySet[Prompt]:
    return Prompt.objects.filter(project_id__in=_project_ids(user)).select_related("project").order_by("id")


def prompt_for_user(*, user: AbstractBaseUser, prompt_id: int) -> Prompt:
    prompt = prompts_for_user(user=user).filter(pk=prompt_id).first()
    if prompt is None:
        raise NotFound(f"no prompt {prompt_id} in your projects", field="id")
    return prompt


def responses_for_user(*, user: AbstractBaseUser) -> QuerySet[Response]:
    """Responses of the user's projects; an annotator sees no one else's human edits (they are labels)."""
    own_edit = Exists(Label.objects.filter(edited_response=OuterRef("pk"), annotator__user=user))
    visible = Q(prompt__project_id__in=_project_ids(user, SEE_ALL_LABELS)) | (
        Q(prompt__project_id__in=_project_ids(user)) & (~Q(origin=ResponseOrigin.HUMAN_EDIT) | Q(own_edit))
    )
    return Response.objects.filter(visible).select_related("prompt__project").order_by("id")


def response_for_user(*, user: AbstractBaseUser, response_id: int) -> Response:
    response = responses_for_user(user=user).filter(pk=response_id).first()
    if response is None:
        raise NotFound(f"no response {response_id} in your projects", field="id")
    return response


def items_for_user(*, user: AbstractBaseUser) -> QuerySet[Item]:
    """Items of the user's projects (with their flags prefetched), oldest first."""
    return (
        Item.objects.filter(project_id__in=_project_ids(user))
        .select_related("project")
        .prefetch_related("flags")
        .order_by("id")
    )


def item_for_user(*, user: AbstractBaseUser, item_id: int) -> Item:
    """One item with its prompt, flags and responses (`item.slots`, in position order)."""
    slots = ItemResponse.objects.select_related("response").order_by("position")
    item = (
        items_for_user(user=user)
        .select_related("prompt")
        .prefetch_related(Prefetch("slots", queryset=slots))
        .filter(pk=item_id)
        .first()
    )
    if item is None:
        raise NotFound(f"no item {item_id} in your projects", field="id")
    return item


# -- labels -----------------------------------------------------------------------------------------
def labels_visible_to(*, user: AbstractBaseUser) -> QuerySet[Label]:
    """All labels of the projects the user owns or reviews, and the user's own labels elsewhere.

    Who gave a label is shown through annotation.selectors.identities (a blind project hides people
    from everyone but its owners), not here.
    """
    visible = Q(item__project_id__in=_project_ids(user, SEE_ALL_LABELS)) | Q(
        item__project_id__in=_project_ids(user), annotator__user=user
    )
    return (
        Label.objects.filter(visible)
        .select_related("item__project", "annotator", "edited_response")
        .order_by("id")
    )


def labels_of_user(*, user: AbstractBaseUser) -> QuerySet[Label]:
    """The user's own labels, in the projects they are still a member of."""
    return labels_visible_to(user=user).filter(annotator__user=user)


def labels_for_item(*, user: AbstractBaseUser, item_id: int) -> QuerySet[Label]:
    """The labels on one item that the user may see; NotFound if the item is not theirs to see."""
    item_for_user(user=user, item_id=item_id)
    return labels_visible_to(user=user).filter(item_id=item_id)


def labels_for_project(*, user: AbstractBaseUser, slug: str) -> QuerySet[Label]:
    """The labels of one project that the user may see (all of them for owners and reviewers)."""
    project = project_for_user(user=user, slug=slug)
    return labels_visible_to(user=user).filter(item__project=project)


def label_for_user(*, user: AbstractBaseUser, label_id: int) -> Label:
    label = labels_visible_to(user=user).filter(pk=label_id).first()
    if label is None:
        raise NotFound(f"no label {label_id} that you may see", field="id")
    return label
