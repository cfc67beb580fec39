"""Projects and memberships."""
from typing import Any

from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count
from django.utils.text import slugify

from ..errors import Conflict, NotFound, PermissionDenied, PrefStudioError
from ..models import Label, Membership, Project, Role, TaskKind
from .project_settings import EDITABLE, ProjectSettings, SettingError

# A label's strength is 1..len(strength_levels) and the database caps it at 10.
MAX_STRENGTH_LEVELS = 10


def project_may_create(*, user: AbstractBaseUser) -> bool:
    """May `user` create projects (and so become an owner)? PREFSTUDIO_PROJECT_CREATORS: "staff" (default) or "any"."""
    return bool(user.is_staff or django_settings.PREFSTUDIO_PROJECT_CREATORS == "any")


def project_check_may_create(*, user: AbstractBaseUser, field: str = "slug") -> None:
    """Raise PermissionDenied, naming the operator's setting, when `user` may not create projects."""
    if not project_may_create(user=user):
        raise PermissionDenied("only staff may create projects (the operator's PREFSTUDIO_PROJECT_CREATORS setting "
                               "is 'staff'); ask staff to create it and make you its owner", field=field)


def project_create(
    *, slug: str, name: str = "", owner: AbstractBaseUser | None = None,
    requested_by: AbstractBaseUser | None = None, **settings,
) -> Project:
    """Create a project; `owner`, if given, becomes its first owner. Raises on a taken or bad slug.

    `requested_by`: the person asking (API, web import), checked with project_may_create (PermissionDenied);
    None = an operator, a command or the demo loader (no check).
    """
    if requested_by is not None:
        project_check_may_create(user=requested_by)
    if not slug or slugify(slug) != slug:
        raise PrefStudioError(f"project slug {slug!r} must be lowercase letters, digits and hyphens", field="slug")
    if Project.objects.filter(slug=slug).exists():
        raise PrefStudioError(f"a project named {slug!r} already exists", field="slug")
    kinds = settings.get("task_kinds")
    if kinds is not None:
        unknown = [k for k in kinds if k not in TaskKind.values]
        if unknown or not kinds:
            raise PrefStudioError(f"task_kinds must be a non-empty list of {', '.join(TaskKind.values)}", field="task_kinds")
    _check_settings(settings)
    with transaction.atomic():
        project = Project.objects.create(slug=slug, name=name or slug, created_by=owner, **settings)
        if owner is not None:
            Membership.objects.create(project=project, user=owner, role=Role.OWNER)
    return project


def _check_settings(settings: dict) -> None:
    """Cross-field rules the database would otherwise reject with a bare constraint error."""
    for name in ("aspects", "strength_levels"):
        values = settings.get(name)
        if values is not None and (len(set(values)) != len(values) or not all(str(v).strip() for v in values)):
            raise PrefStudioError(f"{name} must be distinct, non-empty names", field=name)
    if len(settings.get("strength_levels") or []) > MAX_STRENGTH_LEVELS:
        raise PrefStudioError(f"strength_levels may name at most {MAX_STRENGTH_LEVELS} levels", field="strength_levels")
    if settings.get("human_budget_fraction") is not None and settings.get("human_budget_count") is not None:
        raise PrefStudioError(
            "give the human budget as a fraction or as a count, not both", field="human_budget_count"
        )


def project_add_task_kinds(*, project: Project, kinds: set[str]) -> None:
    missing = sorted(set(kinds) - set(project.task_kinds))
    if missing:
        project.task_kinds = list(project.task_kinds) + missing
        project.save(update_fields=["task_kinds"])


def membership_set(*, project: Project, user: AbstractBaseUser, role: str) -> Membership:
    """Give `user` the `role` in `project` (adding or changing the membership)."""
    if role not in Role.values:
        raise PrefStudioError(f"role must be one of {', '.join(Role.values)}", field="role")
    membership, _ = Membership.objects.update_or_create(project=project, user=user, defaults={"role": role})
    return membership


# -- settings and members, managed by the project's owners (issue 12, item 7) ----------------------------------
def project_require_owner(*, project: Project, user: AbstractBaseUser) -> None:
    """NotFound for a non-member (the project's existence is not confirmed), PermissionDenied for a member who
    is not an owner."""
    role = Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()
    if role is None:
        raise NotFound(f"no project {project.slug!r} among yours", field="slug")
    if role != Role.OWNER:
        raise PermissionDenied("only the project's owners may change its settings and members")


def project_settings_check(*, project: Project, changes: dict[str, Any]) -> ProjectSettings:
    """The project's settings with `changes` applied, checked; nothing is written.

    Raises PrefStudioError naming the field: an unknown or invalid setting (ProjectSettings' rules), a task
    kind removed while items of that kind exist, a strength scale shorter than a strength already given.
    """
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise PrefStudioError(f"{unknown[0]} is not a setting you can change here", field=unknown[0])
    current = {name: getattr(ProjectSettings.of(project), name) for name in EDITABLE}
    if "human_budget_fraction" in changes and changes["human_budget_fraction"] is not None:
        current["human_budget_count"] = None  # giving one kind of budget replaces the other
    if "human_budget_count" in changes and changes["human_budget_count"] is not None:
        current["human_budget_fraction"] = None
    try:
        settings = ProjectSettings(**{**current, **changes})
    except SettingError as exc:
        raise PrefStudioError(exc.message, field=exc.field) from exc
    if project.pk is not None:
        _check_against_data(project=project, settings=settings)
    return settings


def _check_against_data(*, project: Project, settings: ProjectSettings) -> None:
    removed = sorted(set(project.task_kinds or []) - set(settings.task_kinds))
    if removed:
        used = dict(project.items.filter(kind__in=removed).values_list("kind").annotate(n=Count("pk")).order_by())
        if used:
            what = ", ".join(f"{n} {kind}" for kind, n in sorted(used.items()))
            raise PrefStudioError(
                f"task_kinds: the project has items of the kinds you removed ({what} items)", field="task_kinds"
            )
    levels = len(settings.strength_levels)
    stronger = Label.objects.filter(item__project=project, strength__gt=levels).count()
    if stronger:
        scale = f"a {levels}-level scale" if levels else "no strength scale"
        raise PrefStudioError(
            f"strength_levels: {stronger} label(s) already give a strength above {levels}; {scale} cannot hold them",
            field="strength_levels",
        )


@transaction.atomic
def project_update(*, project: Project, user: AbstractBaseUser | None, changes: dict[str, Any]) -> Project:
    """Apply `changes` (setting name -> value) to `project` after the checks of project_settings_check.

    `user` must own the project (None: an operator at the command line). All or nothing. Takes a row lock on
    the project, so two owners' edits apply one after the other. Returns the updated row.
    """
    project = Project.objects.select_for_update().get(pk=project.pk)
    if user is not None:
        project_require_owner(project=project, user=user)
    settings = project_settings_check(project=project, changes=changes)
    changed = [name for name in EDITABLE if getattr(project, name) != getattr(settings, name)]
    for name in changed:
        setattr(project, name, getattr(settings, name))
    if changed:
        project.save(update_fields=changed)
    return project


def user_find(*, who: str) -> AbstractBaseUser:
    """The active user whose username, or else e-mail address, is `who` (case-insensitive)."""
    User = get_user_model()
    who = (who or "").strip()
    if not who:
        raise PrefStudioError("give a username or an e-mail address", field="user")
    user = User.objects.filter(username__iexact=who, is_active=True).first()
    if user is None and "@" in who:
        matches = list(User.objects.filter(email__iexact=who, is_active=True)[:2])
        if len(matches) > 1:
            raise PrefStudioError(f"several users have the e-mail address {who!r}; add one by username", field="user")
        user = matches[0] if matches else None
    if user is None:
        raise NotFound(f"no user with the username or e-mail address {who!r}", field="user")
    return user


def _lock_owner(*, project: Project, user: AbstractBaseUser | None) -> Project:
    """The project row, locked (membership changes of one project apply one at a time), after the owner check."""
    project = Project.objects.select_for_update().get(pk=project.pk)
    if user is not None:
        project_require_owner(project=project, user=user)
    return project


@transaction.atomic
def membership_add(*, project: Project, actor: AbstractBaseUser | None, who: str, role: str) -> Membership:
    """Add the user named by username or e-mail `who` to `project` with `role`; `actor` must own it.

    Raises NotFound (no such user), Conflict (already a member: change their role instead).
    """
    project = _lock_owner(project=project, user=actor)
    if role not in Role.values:
        raise PrefStudioError(f"role must be one of {', '.join(Role.values)}", field="role")
    user = user_find(who=who)
    if Membership.objects.filter(project=project, user=user).exists():
        raise Conflict(f"{user.get_username()} is already a member of {project.slug}", field="user")
    return Membership.objects.create(project=project, user=user, role=role)


@transaction.atomic
def membership_role_change(*, project: Project, actor: AbstractBaseUser | None, membership_id: int,
                           role: str) -> Membership:
    """Give member `membership_id` of `project` the `role`. The last owner cannot step down (Conflict)."""
    project = _lock_owner(project=project, user=actor)
    if role not in Role.values:
        raise PrefStudioError(f"role must be one of {', '.join(Role.values)}", field="role")
    membership = _membership(project=project, membership_id=membership_id)
    if membership.role == Role.OWNER and role != Role.OWNER:
        _keep_an_owner(project=project, leaving=membership)
    if membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, project: Project, actor: AbstractBaseUser | None, membership_id: int) -> None:
    """Remove member `membership_id` from `project` (their labels stay). The last owner cannot go (Conflict)."""
    project = _lock_owner(project=project, user=actor)
    membership = _membership(project=project, membership_id=membership_id)
    if membership.role == Role.OWNER:
        _keep_an_owner(project=project, leaving=membership)
    membership.delete()


def _membership(*, project: Project, membership_id: int) -> Membership:
    membership = Membership.objects.select_related("user").filter(project=project, pk=membership_id).first()
    if membership is None:
        raise NotFound(f"no member {membership_id} in {project.slug}", field="member")
    return membership


def _keep_an_owner(*, project: Project, leaving: Membership) -> None:
    if not Membership.objects.filter(project=project, role=Role.OWNER).exclude(pk=leaving.pk).exists():
        raise Conflict(
            f"{leaving.user.get_username()} is the last owner of {project.slug}: make someone else an owner first",
            field="member",
        )
