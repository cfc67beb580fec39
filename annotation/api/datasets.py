"""REST endpoints of dataset versions: list, detail, paginated rows, streaming export.

    GET /api/projects/{slug}/datasets/                         versions, newest first (any member)
    GET /api/projects/{slug}/datasets/{number}/                config, stats, rows per split and kind (any member)
    GET /api/projects/{slug}/datasets/{number}/rows/?split=    rows with provenance, paginated (owners, reviewers)
    GET /api/projects/{slug}/datasets/{number}/export/?format=&encoding=&split=&provenance=
                                                               the whole split as a file, streamed (owners, reviewers)

Annotators may not read rows or export: the curated labels are the consensus they are asked not to
see while labeling. The export streams (JSONL in ~64 KB pieces, Parquet one row group at a time);
everything that can fail — parameters, access, an empty selection — is checked before the first byte,
so errors are ordinary JSON 4xx. On PostgreSQL the row formats' lines are built by the database and streamed
with COPY (annotation/selectors/dataset_lines.py); `offset` resumes a broken download. The HF
`save_to_disk` encoding is a directory, which HTTP cannot carry as one file without a tar step that buys
nothing over Parquet (`datasets.load_dataset("parquet", data_files=...)` reads it): it is refused with a 400
pointing at `manage.py export_data --encoding hf`.
"""
from itertools import islice

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView

from ..curation.export import (
    EXTENSIONS,
    arrow_schema,
    export_options,
    jsonl_chunks,
    parquet_chunks,
    parquet_chunks_from_jsonl,
)
from ..errors import PrefStudioError
from ..models import DatasetVersion
from ..selectors.dataset_lines import dataset_export_lines, dataset_export_start, lines_supported
from ..selectors.datasets import (
    VersionRowPages,
    dataset_export_count,
    dataset_export_records,
    dataset_version_counts,
    dataset_version_for_user,
    dataset_versions_for_user,
)
from ..selectors.identities import annotator_names_for
from .permissions import IsProjectMember, IsProjectOwnerOrReviewer
from .serializers import (
    DatasetExportQuerySerializer,
    DatasetRowSerializer,
    DatasetRowsQuerySerializer,
    DatasetVersionDetailSerializer,
    DatasetVersionSerializer,
)
from .views import validated

FILE = "The export: JSON lines (encoding=jsonl) or a Parquet file (encoding=parquet), as an attachment."
MEDIA_TYPES = {"jsonl": "application/x-ndjson", "parquet": "application/vnd.apache.parquet"}


class DatasetVersionListApi(generics.ListAPIView):
    """The project's dataset versions, newest first."""

    serializer_class = DatasetVersionSerializer
    queryset = DatasetVersion.objects.none()  # the model, for the schema; rows come from the selector
    permission_classes = [IsAuthenticated, IsProjectMember]
    filter_backends: list = []

    def get_queryset(self):
        return dataset_versions_for_user(user=self.request.user, slug=self.kwargs["slug"])


class DatasetVersionDetailApi(generics.RetrieveAPIView):
    """One version: the curation config, its statistics, and its rows per split and per kind."""

    serializer_class = DatasetVersionDetailSerializer
    queryset = DatasetVersion.objects.none()
    permission_classes = [IsAuthenticated, IsProjectMember]

    def get_object(self):
        version = _version(self.request, self.kwargs)
        counts = dataset_version_counts(version=version)
        version.splits, version.kinds = counts["splits"], counts["kinds"]
        return version


@extend_schema(parameters=[DatasetRowsQuerySerializer])
class DatasetRowListApi(generics.ListAPIView):
    """The version's rows in index order, with weight and provenance (owners and reviewers)."""

    serializer_class = DatasetRowSerializer
    queryset = DatasetVersion.objects.none()
    permission_classes = [IsAuthenticated, IsProjectOwnerOrReviewer]
    filter_backends: list = []

    def get_queryset(self):
        split = validated(DatasetRowsQuerySerializer, self.request.query_params)["split"]
        self.version = _version(self.request, self.kwargs)
        return VersionRowPages(version=self.version, split=split)  # pages without a COUNT of the version

    def get_serializer_context(self):
        # get_queryset ran first (list() pages it before serializing); schema generation has no version.
        version = getattr(self, "version", None)
        return {**super().get_serializer_context(), "project": version.project if version else None}


def _version(request: Request, kwargs: dict) -> DatasetVersion:
    return dataset_version_for_user(user=request.user, slug=kwargs["slug"], number=kwargs["number"])


class FirstRendererNegotiation(BaseContentNegotiation):
    """Errors of the export are always JSON, whatever the client accepts.

    DRF's default negotiation would also read `?format=` as a renderer name (URL_FORMAT_OVERRIDE) and
    answer 404 to `format=trl`; here `format` is the export format.
    """

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class DatasetExportApi(APIView):
    permission_classes = [IsAuthenticated, IsProjectOwnerOrReviewer]
    content_negotiation_class = FirstRendererNegotiation

    @extend_schema(
        parameters=[DatasetExportQuerySerializer],
        responses={
            (200, MEDIA_TYPES["jsonl"]): OpenApiResponse(OpenApiTypes.STR, description=FILE),
            (200, MEDIA_TYPES["parquet"]): OpenApiResponse(OpenApiTypes.BINARY, description=FILE),
        },
        description="The version's rows of one split (or every label of its items, for raw_votes) as a "
        "file, streamed: memory stays flat however large the version, and the first bytes leave after one "
        "chunk of rows. Resume a broken download with `offset` (records to skip; the response says "
        "X-Export-Offset). Record shapes: see "
        "annotation/curation/export.py. 400 names the parameter at fault, also when the version has "
        "nothing of that format in that split. For HF datasets use `manage.py export_data --encoding hf`.",
    )
    def get(self, request: Request, slug: str, number: int) -> StreamingHttpResponse:
        if request.query_params.get("encoding") == "hf":
            raise PrefStudioError(
                "encoding 'hf' writes a directory (datasets save_to_disk), which is for the command line: "
                f"manage.py export_data {slug} {number} --encoding hf --out DIR; over HTTP use encoding=parquet "
                "and load it with datasets.load_dataset('parquet', data_files=...)",
                field="encoding",
            )
        query = validated(DatasetExportQuerySerializer, request.query_params)
        offset = query.pop("offset")
        options = export_options(**query)
        version = dataset_version_for_user(user=request.user, slug=slug, number=number)
        if lines_supported(options):  # PostgreSQL writes the lines, COPY streams them
            # No count and no annotator names before the first byte: each is a scan of a large version.
            start = dataset_export_start(version=version, options=options, offset=offset)
            if start is None:
                dataset_export_count(version=version, options=options)  # an empty export: 400 naming why
                raise PrefStudioError(f"offset {offset} is past the end of the export", field="offset")
            body = dataset_export_lines(version=version, options=options, offset=offset, start=start,
                                        names=lambda: annotator_names_for(project=version.project, user=request.user))
            if options.encoding == "parquet":
                body = parquet_chunks_from_jsonl(body, arrow_schema(options))
        else:
            total = dataset_export_count(version=version, options=options)  # refuses an empty export while it can 400
            if offset >= total:
                raise PrefStudioError(f"offset {offset} is past the end of the export ({total} records)",
                                      field="offset")
            names = annotator_names_for(project=version.project, user=request.user)
            records = islice(dataset_export_records(version=version, options=options, names=names), offset, None)
            body = parquet_chunks(records, arrow_schema(options)) if options.encoding == "parquet" else (
                jsonl_chunks(records))
        response = StreamingHttpResponse(body, content_type=MEDIA_TYPES[options.encoding])
        part = f"-from-{offset}" if offset else ""
        name = f"{slug}-v{number}-{options.format}-{options.split}{part}{EXTENSIONS[options.encoding]}"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["X-Export-Offset"] = str(offset)
        return response
