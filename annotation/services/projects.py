"""Projects and memberships."""
from django.conf import settings as django_settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.text import slugify

from ..errors import PermissionDenied, PrefStudioError
from ..models import Membership, Project, Role, TaskKind

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
