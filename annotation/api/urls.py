from django.urls import path

from . import auth, datasets, queue, references, review, views

urlpatterns = [
    # The labeling queue (annotation.api.queue): any member, on their own leases. Its two hot calls come first: a
    # request is matched against the patterns in order, and these two are most of the API's requests (issue 13).
    path("projects/<slug:slug>/next/", queue.ProjectNextApi.as_view(), name="api-project-next"),
    path("assignments/<int:pk>/submit/", queue.AssignmentSubmitApi.as_view(), name="api-assignment-submit"),
    path("auth/token/", auth.ApiTokenCreateApi.as_view(), name="api-token"),
    path("projects/", views.ProjectListCreateApi.as_view(), name="api-projects"),
    path("projects/<slug:slug>/", views.ProjectDetailApi.as_view(), name="api-project"),
    path("projects/<slug:slug>/references/", references.ProjectReferenceReportApi.as_view(),
         name="api-project-references"),
    path("projects/<slug:slug>/labels/", views.ProjectLabelListApi.as_view(), name="api-project-labels"),
    path("prompts/", views.PromptListApi.as_view(), name="api-prompts"),
    path("prompts/<int:pk>/", views.PromptDetailApi.as_view(), name="api-prompt"),
    path("responses/", views.ResponseListApi.as_view(), name="api-responses"),
    path("responses/<int:pk>/", views.ResponseDetailApi.as_view(), name="api-response"),
    path("items/", views.ItemListApi.as_view(), name="api-items"),
    path("items/<int:pk>/", views.ItemDetailApi.as_view(), name="api-item"),
    path("items/<int:pk>/reference/", references.ItemReferenceApi.as_view(), name="api-item-reference"),
    path("items/<int:pk>/labels/", views.ItemLabelListCreateApi.as_view(), name="api-item-labels"),
    path("labels/", views.LabelListApi.as_view(), name="api-labels"),
    path("labels/<int:pk>/", views.LabelDetailApi.as_view(), name="api-label"),
    path("imports/", views.ImportApi.as_view(), name="api-imports"),
    path("imports/<int:pk>/", views.ImportRunDetailApi.as_view(), name="api-import-run"),
    path("assignments/<int:pk>/skip/", queue.AssignmentSkipApi.as_view(), name="api-assignment-skip"),
    path("assignments/<int:pk>/refresh/", queue.AssignmentRefreshApi.as_view(), name="api-assignment-refresh"),
    # Review (annotation.api.review): owners and reviewers.
    path("projects/<slug:slug>/review/", review.ReviewQueueApi.as_view(), name="api-review-queue"),
    path("items/<int:pk>/resolve/", review.ReviewResolveApi.as_view(), name="api-review-resolve"),
    # Dataset versions (annotation.api.datasets): any member lists them; owners and reviewers read rows and export.
    path("projects/<slug:slug>/datasets/", datasets.DatasetVersionListApi.as_view(), name="api-datasets"),
    path("projects/<slug:slug>/datasets/<int:number>/", datasets.DatasetVersionDetailApi.as_view(), name="api-dataset"),
    path(
        "projects/<slug:slug>/datasets/<int:number>/rows/", datasets.DatasetRowListApi.as_view(),
        name="api-dataset-rows",
    ),
    path(
        "projects/<slug:slug>/datasets/<int:number>/export/", datasets.DatasetExportApi.as_view(),
        name="api-dataset-export",
    ),
]
