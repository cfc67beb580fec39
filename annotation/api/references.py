"""REST endpoint of an item's gold reference: owners and reviewers read it, owners set or clear it.

Annotators never see it (an evaluation-only reference must not leak into labeling): they get 403 here, and no
other payload they receive carries it."""
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors
from ..errors import PermissionDenied
from ..models import Item, Role
from ..selectors.identities import annotator_names_for
from ..selectors.references import reference_report
from ..selectors.review import project_for_reviewer
from ..selectors.votes import pairwise_votes
from ..services.references import item_reference_set
from .permissions import IsProjectOwnerOrReviewer
from .views import validated


class ReferenceSerializer(serializers.Serializer):
    item = serializers.IntegerField(read_only=True)
    reference = serializers.JSONField(
        allow_null=True,
        help_text='{"winner": "A" | "B" | "tie"} for a pair, {"ranking": [[2], [0, 1]]} for a list; null = none.')
    reference_use = serializers.CharField(read_only=True, help_text="What the project uses references for.")


def _body(item: Item) -> dict:
    return {"item": item.pk, "reference": item.reference, "reference_use": item.project.reference_use}


class ItemReferenceApi(APIView):
    error_responses = {"PUT": {"403": "Not an owner of the project"}}

    def _item(self, request: Request, pk: int) -> Item:
        item = selectors.item_for_user(user=request.user, item_id=pk)  # 404 outside the user's projects
        if selectors.project_role(user=request.user, slug=item.project.slug) not in (Role.OWNER, Role.REVIEWER):
            raise PermissionDenied("only owners and reviewers of the project may see its references")
        return item

    @extend_schema(responses={200: ReferenceSerializer})
    def get(self, request: Request, pk: int) -> Response:
        """The item's reference (owners and reviewers)."""
        return Response(_body(self._item(request, pk)))

    @extend_schema(request=ReferenceSerializer, responses={200: ReferenceSerializer})
    def put(self, request: Request, pk: int) -> Response:
        """Set (or, with null, clear) the item's reference (owners); 400 names what does not fit the item."""
        data = validated(ReferenceSerializer, request.data)
        item = item_reference_set(item_id=self._item(request, pk).pk, user=request.user,
                                  reference=data["reference"])
        return Response(_body(item))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        """Clear the item's reference (owners)."""
        item_reference_set(item_id=self._item(request, pk).pk, user=request.user, reference=None)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectReferenceReportApi(APIView):
    """GET /api/projects/{slug}/references/: accuracy against the project's gold references (owners, reviewers)."""

    permission_classes = [IsAuthenticated, IsProjectOwnerOrReviewer]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, slug: str) -> Response:
        """Per annotator (people and judges; on attention checks for reference_use "attention") and per unsupervised
        aggregation method: accuracy on the reference items with its 95 % Wilson interval ({k, n, value, low,
        high}); the majority consensus' per-item, per-vote and excluding-ties agreement; reliability warnings when
        no item has a reference. In a blind project people are pseudonyms for all but owners."""
        project = project_for_reviewer(user=request.user, slug=slug)
        names = annotator_names_for(project=project, user=request.user)
        report = reference_report(project=project, votes=pairwise_votes(project=project))
        return Response(report.as_json(names.name))
