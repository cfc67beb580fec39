"""Role checks for project-scoped endpoints (`slug` in the URL).

Visibility is the selectors' job (an object outside the user's projects is simply not found);
these classes say which *members* may use an endpoint. A non-member gets 404, not 403, so the
API does not confirm that a project exists.
"""
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission

from ..models import Role
from ..selectors import project_role


class ProjectRolePermission(BasePermission):
    # The roles allowed in; subclasses narrow it.
    roles: tuple[str, ...] = tuple(Role.values)
    message = "your role in this project does not allow this"

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        role = project_role(user=request.user, slug=view.kwargs["slug"])
        if role is None:
            raise NotFound(f"no project {view.kwargs['slug']!r} among yours")
        return role in self.roles


class IsProjectMember(ProjectRolePermission):
    pass


class IsProjectOwnerOrReviewer(ProjectRolePermission):
    roles = (Role.OWNER, Role.REVIEWER)
    message = "only owners and reviewers of this project may see all of its labels"
