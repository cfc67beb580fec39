"""The annotator's pages: a project's queue and the task pages (pairwise, listwise, edit, thumbs).

Shells around the queue service: a view reads through a selector, calls one service and renders
one template (for htmx: the lease fragment, and after a submit the next task page's main region). Pages are
for project members only: for anyone else the selectors raise NotFound, a 404 as for a project that does not exist (prefstudio/errors_http.py).
"""
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.messages import get_messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.template.backends.utils import csrf_input
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from ..errors import Conflict, NotFound, PrefStudioError
from ..models import Assignment
from ..selectors import project_for_user
from ..selectors.labeling import (
    LabelingTask,
    labeling_task,
    lease_for_user,
    lease_is_live,
    lease_page,
    live_lease_in_project,
    queue_status,
    queue_status_fast,
    QueueStatus,
)
from ..services.accounts import annotator_for_user
from ..services.labeling import (
    assignment_refresh,
    assignment_skip_and_next,
    label_submit_and_next,
    label_submit_and_next_page,
    queue_next_for_user,
)
from .label_form import FormValues, form_values, label_payload, page_message

TASK_TEMPLATE = "annotation/labeling/task.html"  # the whole page: base.html around TASK_JINJA's "page"
TASK_JINJA = "annotation/labeling/task.jinja"  # the page's parts, in Jinja2 (annotation/jinja_env.py: why)
# Reasons offered for a skip; "other" asks for the annotator's own words.
SKIP_REASONS = [
    "I cannot judge this topic",
    "It is in a language I do not read",
    "The item is broken, empty or unreadable",
]


def _go_to(slug: str, lease: Assignment | None) -> HttpResponseRedirect:
    """To the task page of `lease`, or to the queue (its empty state) when there is none."""
    if lease is None:
        return redirect("labeling-queue", slug=slug)
    return redirect("labeling-task", slug=slug, assignment_id=lease.pk)


@require_GET
@login_required
def queue(request: HttpRequest, slug: str) -> HttpResponse:
    """What is left for the user and for the project, and a button to start or continue."""
    project = project_for_user(user=request.user, slug=slug)
    status = queue_status(project=project, annotator=annotator_for_user(user=request.user))
    live = live_lease_in_project(user=request.user, project=project)
    return render(request, "annotation/labeling/queue.html", {"project": project, "status": status, "live": live})


@require_POST
@login_required
def take_next(request: HttpRequest, slug: str) -> HttpResponse:
    """Lease the next item (or return to the live one) and open its task page."""
    return _go_to(slug, queue_next_for_user(user=request.user, slug=slug))


@require_GET
@login_required
def task(request: HttpRequest, slug: str, assignment_id: int) -> HttpResponse:
    page = lease_page(user=request.user, assignment_id=assignment_id, slug=slug)
    if not lease_is_live(page.lease):
        messages.info(request, "That item is no longer reserved for you; here is where you are.")
        return redirect("labeling-queue", slug=slug)
    return _render_task(request, page.lease, values=FormValues(), key=uuid.uuid4().hex, status=page.status)


@require_POST
@login_required
def submit(request: HttpRequest, slug: str, assignment_id: int) -> HttpResponse:
    """Store the label and go on to the next item; a refused label re-renders the page, unchanged.

    Without JavaScript: redirect-after-POST to the next task page. With htmx (the form's hx-post) one request per
    label: the answer is the next task page itself (its main region), with HX-Push-Url naming its URL so the
    address bar and the back button stay right; the queue page (HX-Redirect) when nothing is left.
    """
    # The queue's counters shown are the next item's; this item's are read only to show an error (_render_task).
    page = lease_page(user=request.user, assignment_id=assignment_id, slug=slug, counters=False)
    lease = page.lease
    task_ = labeling_task(lease=lease)
    values = form_values(
        request.POST, aspects=list(task_.project.aspects or []), positions=[p.position for p in task_.panels]
    )
    key = request.POST.get("idempotency_key") or None
    try:
        payload = label_payload(values, kind=task_.kind, shown_order=task_.shown_order)
        if request.htmx:
            _, following = label_submit_and_next_page(user=request.user, page=page, data=payload,
                                                      idempotency_key=key)
        else:
            _, lease_next = label_submit_and_next(lease=lease, data=payload, idempotency_key=key,
                                                  context=page.context)
    except NotFound:
        raise  # not a member, not your lease: the 404 page
    except PrefStudioError as exc:
        if isinstance(exc, Conflict) and exc.field == "assignment":  # the lease ended meanwhile
            messages.warning(request, exc.message)
            return _to_queue(request, slug)
        return _render_task(request, lease, values=values, key=key or uuid.uuid4().hex, error=exc, status=page.status,
                            task_=task_)
    messages.success(request, "Label saved.")
    if not request.htmx:
        return _go_to(slug, lease_next)
    if following is None:
        return _to_queue(request, slug)
    urls = lease_urls(slug, following.lease.pk)
    response = _render_task(request, following.lease, values=FormValues(), key=uuid.uuid4().hex,
                            status=following.status, urls=urls)
    response["HX-Push-Url"] = urls["task_url"]
    return response


def _to_queue(request: HttpRequest, slug: str) -> HttpResponse:
    """To the queue page: a redirect, or for htmx a full page load there (HX-Redirect)."""
    url = reverse("labeling-queue", kwargs={"slug": slug})
    return HttpResponseClientRedirect(url) if request.htmx else HttpResponseRedirect(url)


@require_POST
@login_required
def skip(request: HttpRequest, slug: str, assignment_id: int) -> HttpResponse:
    """Give the item back with a reason (the item returns to the queue for others)."""
    lease = lease_for_user(user=request.user, assignment_id=assignment_id, slug=slug)
    choice, detail = request.POST.get("reason", "").strip(), request.POST.get("reason_detail", "").strip()
    reason = detail if choice == "other" else ": ".join(part for part in (choice, detail) if part)
    try:
        lease_next = assignment_skip_and_next(lease=lease, reason=reason)
    except NotFound:
        raise  # the 404 page
    except Conflict as exc:
        messages.warning(request, exc.message)
        return redirect("labeling-queue", slug=slug)
    except PrefStudioError:
        error = PrefStudioError("Say why you skip this item: pick a reason or write one.", field="reason")
        return _render_task(request, lease, values=FormValues(), key=uuid.uuid4().hex, error=error)
    messages.info(request, "Item skipped; it goes back to the queue for others.")
    return _go_to(slug, lease_next)


@require_POST
@login_required
def refresh(request: HttpRequest, slug: str, assignment_id: int) -> HttpResponse:
    """Extend the lease while the page is open (htmx polls this every minute); returns the lease fragment."""
    lease = lease_for_user(user=request.user, assignment_id=assignment_id, slug=slug)
    try:
        lease = assignment_refresh(assignment_id=lease.pk, annotator=lease.annotator)
    except Conflict:
        lease.refresh_from_db()
    if not request.htmx:
        return redirect("labeling-task", slug=slug, assignment_id=lease.pk)
    context = {"lease": lease, "live": lease_is_live(lease), **lease_urls(slug, lease.pk)}
    return HttpResponse(task_part(request, "lease", context))


def lease_urls(slug: str, assignment_id: int) -> dict[str, str]:
    """The queue's URL and the task page's, and those of its three actions, which annotation/urls/labeling.py puts
    under the page's (a test checks them against `reverse`): two reverses instead of five on every task page."""
    task_url = reverse("labeling-task", kwargs={"slug": slug, "assignment_id": assignment_id})
    return {"queue_url": reverse("labeling-queue", kwargs={"slug": slug}), "task_url": task_url,
            "submit_url": f"{task_url}submit/", "skip_url": f"{task_url}skip/", "refresh_url": f"{task_url}refresh/"}


def task_part(request: HttpRequest | None, part: str, context: dict) -> SafeString:
    """A part of the task page ("page", "lease", or a kind's controls: templates/jinja2/.../task.jinja), as HTML
    (safe: the engine escapes every value, and model text goes through the `markdown` filter)."""
    return mark_safe(render_to_string(TASK_JINJA, {**context, "part": part}, request, using="jinja2"))  # noqa: S308


def _render_task(
    request: HttpRequest, lease: Assignment, *, values: FormValues, key: str, error: PrefStudioError | None = None,
    status: QueueStatus | None = None, task_: LabelingTask | None = None, urls: dict[str, str] | None = None,
) -> HttpResponse:
    """The task page of `lease`; for an htmx request (the label form's submit) only its main region (`#page`)."""
    task_ = task_ or labeling_task(lease=lease)
    # The counters the queue keeps on write (read with the lease by lease_page, else one query); the queue page
    # shows the exact count of what is left.
    status = status or queue_status_fast(project=task_.project, annotator=lease.annotator)
    total = status.mine_done + status.mine_left + 1  # + this item
    context = {
        "task": task_,
        "project": task_.project,
        "lease": lease,
        "live": lease_is_live(lease),
        "status": status,
        "progress": {"done": status.mine_done, "total": total, "percent": round(100 * status.mine_done / total)},
        "values": values,
        "ranked_panels": [(panel, values.ranks.get(panel.position, "")) for panel in task_.panels],
        "aspect_rows": [
            (i, name, values.aspects.get(name, "")) for i, name in enumerate(task_.project.aspects or [])
        ],
        "original": task_.panels[0].response.text if task_.panels else "",
        "idempotency_key": key,
        "error": error,
        "error_message": page_message(error) if error else "",
        "skip_reasons": SKIP_REASONS,
        "messages": get_messages(request),
        "csrf_field": csrf_input(request),  # one token for the page's two forms
        **(urls or lease_urls(task_.project.slug, lease.pk)),
    }
    fragment = bool(request.htmx) and not request.htmx.history_restore_request
    context["fragment"] = fragment
    page = task_part(request, "page", context)
    status = error.status_code if error else 200
    if fragment:
        return HttpResponse(page, status=status)
    return render(request, TASK_TEMPLATE, {**context, "page": page}, status=status)
