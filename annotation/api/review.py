"""REST endpoints of review: a project's review queue, and resolving an item (owners and reviewers)."""
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors
from ..selectors.review_queue import review_queue_pages_for_user
from ..services.review import MAX_NOTE_LENGTH, review_resolve
from .permissions import IsProjectOwnerOrReviewer
from .serializers import ItemSerializer, LabelCreateSerializer, LabelSerializer
from .views import validated


class ReviewReasonSerializer(serializers.Serializer):
    code = serializers.CharField(help_text='"disagreement", "flag" or "in_review"; more may come.')
    label = serializers.CharField(help_text="A short tag, e.g. Disagreement.")
    detail = serializers.CharField(help_text='The reason in words, e.g. "A ×2 · B ×1".')


class ReviewQueueEntrySerializer(serializers.Serializer):
    item = ItemSerializer()
    reasons = ReviewReasonSerializer(many=True)


class ReviewResolveSerializer(LabelCreateSerializer):
    """The final verdict in the native label format for the item's kind, and the reviewer's note."""

    idempotency_key = None  # a second resolution of the same item is a 409 anyway
    rationale = None  # the note is the rationale of a reviewer's label
    note = serializers.CharField(max_length=MAX_NOTE_LENGTH, help_text="Why this is the right verdict.")


class ReviewQueueApi(generics.ListAPIView):
    """The project's undecided items that need a person, oldest first, each with the reasons why."""

    serializer_class = ReviewQueueEntrySerializer
    permission_classes = [IsAuthenticated, IsProjectOwnerOrReviewer]
    filter_backends: list = []  # the queue is a list built by the selector, not a queryset

    def get_queryset(self):
        _, entries = review_queue_pages_for_user(user=self.request.user, slug=self.kwargs["slug"])
        return entries  # lazy: the paginator counts in SQL and loads one page


class ReviewResolveApi(APIView):
    error_responses = {"POST": {"409": "The item is already final or excluded"}}

    @extend_schema(request=ReviewResolveSerializer, responses={201: LabelSerializer})
    def post(self, request: Request, pk: int) -> Response:
        """Resolve the item with a final verdict and a note (owners and reviewers); the item becomes final."""
        data = validated(ReviewResolveSerializer, request.data)
        note = data.pop("note")
        item = selectors.item_for_user(user=request.user, item_id=pk)
        label = review_resolve(item=item, reviewer_user=request.user, data=data, note=note)
        label = selectors.label_for_user(user=request.user, label_id=label.pk)  # as the lists show it
        return Response(LabelSerializer(label, context={"request": request}).data, status=status.HTTP_201_CREATED)
