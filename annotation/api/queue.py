"""The labeling queue over REST: take the next item, submit its label, skip it, keep it reserved.

    POST /api/projects/{slug}/next/         → 200 a lease on your next item (or the one you hold), 204 when done
    POST /api/assignments/{id}/submit/      → 201 the label (a retry with the same idempotency_key: the same label)
    POST /api/assignments/{id}/skip/        → 200 the released lease
    POST /api/assignments/{id}/refresh/     → 200 the lease with its new expiry

Shells around `services.labeling` (the same service the labeling pages use). `next` and `submit` with a token
take a lean path first (annotation/api/hot.py); these classes answer the rest and document both. A lease is its
annotator's alone: anyone else, and anyone who left the project, gets 404. A lease that expired,
was skipped or was submitted answers 409.
"""
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..models import Assignment, AssignmentStatus, Prompt
from ..selectors.identities import AnnotatorNames
from ..selectors.labeling import lease_for_user
from ..services.labeling import (
    assignment_refresh,
    assignment_skip,
    label_submit_for_api,
    queue_next_for_api,
)
from . import hot
from .serializers import ItemPromptSerializer, LabelCreateSerializer, LabelSerializer, SlotSerializer
from .views import validated

LEASE_ERRORS = {"409": "The lease expired, was skipped or was submitted"}


# -- shapes -----------------------------------------------------------------------------------------
class QueueStatusSerializer(serializers.Serializer):
    mine_left = serializers.IntegerField(help_text="Items you could still be given (not counting this one).")
    mine_done = serializers.IntegerField(help_text="Labels you gave in the project.")
    project_left = serializers.IntegerField(help_text="Human labels the project still wants, over all annotators.")


class LeaseItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    kind = serializers.CharField()
    prompt = ItemPromptSerializer()
    responses = SlotSerializer(source="slots", many=True, help_text='In position order; position 0 is "A".')


class LeaseSerializer(serializers.Serializer):
    assignment = serializers.IntegerField(source="lease.pk", help_text="Use it to submit, skip or refresh.")
    project = serializers.CharField(source="lease.item.project.slug")
    status = serializers.ChoiceField(source="lease.status", choices=AssignmentStatus.choices)
    expires_at = serializers.DateTimeField(source="lease.expires_at")
    item = LeaseItemSerializer(source="lease.item")
    queue = QueueStatusSerializer()


class AssignmentSerializer(serializers.ModelSerializer):
    assignment = serializers.IntegerField(source="pk", read_only=True)
    item = serializers.IntegerField(source="item_id", read_only=True)

    class Meta:
        model = Assignment
        fields = ["assignment", "item", "status", "expires_at", "skip_reason", "released_at"]
        read_only_fields = fields


class SubmitSerializer(LabelCreateSerializer):
    """The label, in the native format (as POST /api/items/{id}/labels/), and a key for retries."""


class SkipSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2_000, help_text="Why you give the item back.")


# -- endpoints --------------------------------------------------------------------------------------
class ProjectNextApi(APIView):
    # Membership is checked by the service, in the statement that takes the item (404 for a non-member).
    permission_classes = [IsAuthenticated]

    @classmethod
    def as_view(cls, **initkwargs):
        return hot.hot_path(super().as_view(**initkwargs), hot.project_next)

    @extend_schema(
        request=None,
        responses={200: LeaseSerializer, 204: OpenApiResponse(description="Nothing is left for you")},
        description="Reserve your next item of the project (or return the one you already hold) until "
        "`expires_at`. Items you started, labeled or skipped are never given to you again; 204 when none "
        "is left. Submit, skip or refresh the lease with its `assignment` id.",
    )
    def post(self, request: Request, slug: str) -> Response:
        lease = queue_next_for_api(user=request.user, slug=slug)
        if lease is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(_lease_body(lease))


class AssignmentSubmitApi(APIView):
    error_responses = {"POST": LEASE_ERRORS}

    @classmethod
    def as_view(cls, **initkwargs):
        return hot.hot_path(super().as_view(**initkwargs), hot.assignment_submit)

    @extend_schema(
        request=SubmitSerializer,
        responses={201: LabelSerializer},
        description="Label the leased item and release the lease. The label is checked as any other "
        "(a ranking is a permutation, an edit changes the text, strength is within the scale); a bad one "
        "changes nothing. Retrying with the same `idempotency_key` returns the label stored the first time.",
    )
    def post(self, request: Request, pk: int) -> Response:
        data = validated(SubmitSerializer, request.data)
        key = data.pop("idempotency_key", None)
        label = label_submit_for_api(user=request.user, assignment_id=pk, data=data, idempotency_key=key)
        # The label is the user's own: shown under their own name, blind project or not (no names to look up).
        names = AnnotatorNames(project_id=label.item.project.pk, visible=True, viewer_user_id=request.user.pk,
                               shown={label.annotator_id: label.annotator.name})
        context = {"request": request, "annotator_names": {label.item.project.pk: names}}
        return Response(LabelSerializer(label, context=context).data, status=status.HTTP_201_CREATED)


class AssignmentSkipApi(APIView):
    error_responses = {"POST": LEASE_ERRORS}

    @extend_schema(
        request=SkipSerializer,
        responses={200: AssignmentSerializer},
        description="Give the item back, saying why. It returns to the queue for others, never for you.",
    )
    def post(self, request: Request, pk: int) -> Response:
        lease = lease_for_user(user=request.user, assignment_id=pk)
        reason = validated(SkipSerializer, request.data)["reason"]
        lease = assignment_skip(assignment_id=lease.pk, annotator=lease.annotator, reason=reason)
        return Response(AssignmentSerializer(lease).data)


class AssignmentRefreshApi(APIView):
    error_responses = {"POST": LEASE_ERRORS}

    @extend_schema(
        request=None,
        responses={200: AssignmentSerializer},
        description="Keep the item reserved: the lease runs for the project's lease time from now.",
    )
    def post(self, request: Request, pk: int) -> Response:
        lease = lease_for_user(user=request.user, assignment_id=pk)
        lease = assignment_refresh(assignment_id=lease.pk, annotator=lease.annotator)
        return Response(AssignmentSerializer(lease).data)


def _lease_body(lease: dict) -> dict:
    """LeaseSerializer's shape from the row `queue_next_for_api` returns (no model instances, no queries)."""
    item = lease["item"]
    prompt = item["prompt"]
    messages = ItemPromptSerializer(
        Prompt(id=prompt["id"], external_id=prompt["external_id"], messages=prompt["messages"])).data
    return {
        "assignment": lease["assignment"],
        "project": lease["project"],
        "status": lease["status"],
        "expires_at": serializers.DateTimeField().to_representation(lease["expires_at"]),
        "item": {"id": item["id"], "external_id": item["external_id"], "kind": item["kind"], "prompt": messages,
                 "responses": item["responses"]},
        "queue": lease["queue"],
    }
