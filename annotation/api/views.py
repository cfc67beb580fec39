"""REST API views: shells that check input types, call one selector or service, and serialize.

Lists are paginated (annotation.api.pagination) and filtered (annotation.api.filters); what a user
may see is decided by annotation.selectors, who may write by the services.
"""
from dataclasses import asdict
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors
from ..importing import ImportOptions
from ..models import ImportRun, Item, Label, Project, Prompt
from ..models import Response as ResponseModel
from ..selectors.import_runs import import_run_for_user
from ..services.import_runs import import_upload
from ..services.labeling import label_submit_for_user
from ..services.projects import project_create, project_update
from . import filters
from .permissions import IsProjectOwnerOrReviewer
from ..uploads import upload_handlers_capped
from .serializers import (
    ImportReportSerializer,
    ImportRunSerializer,
    ImportSerializer,
    ItemDetailSerializer,
    ItemSerializer,
    LabelCreateSerializer,
    LabelSerializer,
    ProjectCreateSerializer,
    ProjectSerializer,
    ProjectUpdateSerializer,
    PromptSerializer,
    ResponseSerializer,
)


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def validated_partial(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """Like `validated`, for PATCH: only the fields sent, no defaults."""
    serializer = serializer_class(data=data, partial=True)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# -- projects ---------------------------------------------------------------------------------------
class ProjectListCreateApi(generics.ListAPIView):
    serializer_class = ProjectSerializer
    queryset = Project.objects.none()  # the model, for the schema; rows come from the selector
    error_responses = {"POST": {"409": "Conflict"}}

    def get_queryset(self):
        return selectors.projects_for_user(user=self.request.user)

    @extend_schema(request=ProjectCreateSerializer, responses={201: ProjectSerializer})
    def post(self, request: Request) -> Response:
        """Create a project; you become its owner."""
        project = project_create(owner=request.user, requested_by=request.user,
                                 **validated(ProjectCreateSerializer, request.data))
        project = selectors.project_for_user(user=request.user, slug=project.slug)  # with your role
        return Response(ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailApi(generics.RetrieveAPIView):
    serializer_class = ProjectSerializer
    error_responses = {"PATCH": {"403": "Not an owner of the project"}}

    def get_object(self):
        return selectors.project_for_user(user=self.request.user, slug=self.kwargs["slug"])

    @extend_schema(request=ProjectUpdateSerializer, responses={200: ProjectSerializer})
    def patch(self, request: Request, slug: str) -> Response:
        """Change settings of a project you own (any subset of the fields); 400 names the field at fault."""
        project = selectors.project_for_user(user=request.user, slug=slug)  # 404 for non-members
        changes = validated_partial(ProjectUpdateSerializer, request.data)
        project_update(project=project, user=request.user, changes=changes)
        return Response(ProjectSerializer(selectors.project_for_user(user=request.user, slug=slug)).data)


class ProjectLabelListApi(generics.ListAPIView):
    """Every label of the project (owners and reviewers only)."""

    serializer_class = LabelSerializer
    queryset = Label.objects.none()  # the model, for the schema; rows come from the selector
    permission_classes = [IsAuthenticated, IsProjectOwnerOrReviewer]
    filterset_class = filters.LabelFilter

    def get_queryset(self):
        return selectors.labels_for_project(user=self.request.user, slug=self.kwargs["slug"])


# -- prompts and responses --------------------------------------------------------------------------
class PromptListApi(generics.ListAPIView):
    serializer_class = PromptSerializer
    queryset = Prompt.objects.none()  # the model, for the schema; rows come from the selector
    filterset_class = filters.PromptFilter

    def get_queryset(self):
        return selectors.prompts_for_user(user=self.request.user)


class PromptDetailApi(generics.RetrieveAPIView):
    serializer_class = PromptSerializer

    def get_object(self):
        return selectors.prompt_for_user(user=self.request.user, prompt_id=self.kwargs["pk"])


class ResponseListApi(generics.ListAPIView):
    serializer_class = ResponseSerializer
    queryset = ResponseModel.objects.none()  # the model, for the schema; rows come from the selector
    filterset_class = filters.ResponseFilter

    def get_queryset(self):
        return selectors.responses_for_user(user=self.request.user)


class ResponseDetailApi(generics.RetrieveAPIView):
    serializer_class = ResponseSerializer

    def get_object(self):
        return selectors.response_for_user(user=self.request.user, response_id=self.kwargs["pk"])


# -- items ------------------------------------------------------------------------------------------
class ItemListApi(generics.ListAPIView):
    serializer_class = ItemSerializer
    queryset = Item.objects.none()  # the model, for the schema; rows come from the selector
    filterset_class = filters.ItemFilter

    def get_queryset(self):
        return selectors.items_for_user(user=self.request.user)


class ItemDetailApi(generics.RetrieveAPIView):
    """An item with its prompt's messages and its responses in position order (0 is "A")."""

    serializer_class = ItemDetailSerializer

    def get_object(self):
        return selectors.item_for_user(user=self.request.user, item_id=self.kwargs["pk"])


# -- labels -----------------------------------------------------------------------------------------
class ItemLabelListCreateApi(generics.ListAPIView):
    """The item's labels you may see (all of them if you own or review its project); POST adds yours."""

    serializer_class = LabelSerializer
    queryset = Label.objects.none()  # the model, for the schema; rows come from the selector
    error_responses = {"POST": {
        "403": "No live lease on the item (take it from the queue), and not an owner of its project",
        "409": "Already labeled, item closed or full (overlap), lease expired, or idempotency key used elsewhere",
    }}

    def get_queryset(self):
        return selectors.labels_for_item(user=self.request.user, item_id=self.kwargs["pk"])

    @extend_schema(request=LabelCreateSerializer, responses={201: LabelSerializer})
    def post(self, request: Request, pk: int) -> Response:
        """Label the item as yourself: on your live lease of it (POST /api/projects/{slug}/next/ hands one out),
        or, as an owner of its project, directly while it wants more human labels (overlap). Retrying with
        the same idempotency_key returns the same label."""
        data = validated(LabelCreateSerializer, request.data)
        key = data.pop("idempotency_key", None)
        label = label_submit_for_user(user=request.user, item_id=pk, data=data, idempotency_key=key)
        label = selectors.label_for_user(user=request.user, label_id=label.pk)  # as the lists show it
        return Response(LabelSerializer(label, context={"request": request}).data, status=status.HTTP_201_CREATED)


class LabelListApi(generics.ListAPIView):
    """Your own labels."""

    serializer_class = LabelSerializer
    queryset = Label.objects.none()  # the model, for the schema; rows come from the selector
    filterset_class = filters.LabelFilter

    def get_queryset(self):
        return selectors.labels_of_user(user=self.request.user)


class LabelDetailApi(generics.RetrieveAPIView):
    serializer_class = LabelSerializer

    def get_object(self):
        return selectors.label_for_user(user=self.request.user, label_id=self.kwargs["pk"])


# -- imports ----------------------------------------------------------------------------------------
class ImportApi(APIView):
    parser_classes = [MultiPartParser, FormParser]
    error_responses = {"POST": {"413": "File too large"}}

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        upload_handlers_capped(request._request)  # before authentication, which may read the body (CSRF)
        super().initial(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": ImportSerializer},
        responses={200: ImportReportSerializer, 202: ImportRunSerializer},
        description="Import a JSONL file into a project (created if new, else you must own it). "
        "All or nothing: a file with bad records writes nothing and the 400 lists every bad line, "
        "unless skip_invalid is set. A file over a size limit is a 413 naming the limit (and the line). "
        "A large file (over PREFSTUDIO_IMPORT_INLINE_MAX_BYTES, decompressed) is imported by a job: "
        "the answer is then a 202 with the run's `url` to poll for its progress and outcome.",
    )
    def post(self, request: Request) -> Response:
        data = validated(ImportSerializer, request.data)
        outcome = import_upload(
            user=request.user,
            project_slug=data["project"],
            fmt=data["format"],
            upload=data["file"],
            options=ImportOptions(annotator=data.get("annotator"), annotator_kind=data["annotator_kind"]),
            skip_invalid=data["skip_invalid"],
        )
        if isinstance(outcome, ImportRun):
            body = ImportRunSerializer(outcome, context={"request": request}).data
            return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})
        body = {**asdict(outcome), "changed_nothing": outcome.changed_nothing}
        return Response(ImportReportSerializer(body).data)


class ImportRunDetailApi(generics.RetrieveAPIView):
    """An import job you started: its state, progress (lines and bytes of the file read) and outcome."""

    serializer_class = ImportRunSerializer

    def get_object(self):
        return import_run_for_user(user=self.request.user, run_id=self.kwargs["pk"])
