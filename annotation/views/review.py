"""Reviewer pages: the review queue of a project, one item with every label on it, and resolving it.

Owners and reviewers only: a non-member gets 404 (the page does not confirm the project
exists), an annotator 403 -- the selectors' NotFound and PermissionDenied (prefstudio/errors_http.py).
"""
import json
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from prefstudio.config_forms import refusals_on

from ..models import TaskKind, Winner
from ..selectors.review import WINNER_TEXT, ReviewItem, review_item_for_user
from ..selectors.review_queue import review_queue_pages_for_user
from ..services.references import item_reference_set
from ..services.review import MAX_NOTE_LENGTH, review_resolve

QUEUE_PAGE_SIZE = 50


@require_GET
@login_required
def review_queue(request: HttpRequest, slug: str) -> HttpResponse:
    """The items of the project that need a person; htmx page links swap just the table."""
    project, entries = review_queue_pages_for_user(user=request.user, slug=slug)
    page = Paginator(entries, QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))  # loads one page
    template = "annotation/review/queue.html"
    if request.htmx:
        template += "#queue-table"
    return render(request, template, {"project": project, "page": page, "n_entries": page.paginator.count})


@require_GET
@login_required
def review_item(request: HttpRequest, slug: str, item_id: int) -> HttpResponse:
    """Every label on one item (people, judges, the resolution if any) and the form to resolve it."""
    review = review_item_for_user(user=request.user, slug=slug, item_id=item_id)
    return render(request, "annotation/review/item.html", {"review": review, "form": ResolveForm(review=review),
                                                           "reference_form": ReferenceForm(item=review.item)})


@require_POST
@login_required
def review_item_resolve(request: HttpRequest, slug: str, item_id: int) -> HttpResponse:
    """Store the reviewer's verdict and note; back to the queue, or the form again with the errors."""
    review = review_item_for_user(user=request.user, slug=slug, item_id=item_id)
    form = ResolveForm(request.POST, review=review)
    if form.is_valid():
        with refusals_on(form):
            review_resolve(
                item=review.item, reviewer_user=request.user, data=form.payload(), note=form.cleaned_data["note"]
            )
            messages.success(request, f"Item {review.item.external_id} resolved: it is final now.")
            queue = reverse("review-queue", kwargs={"slug": slug})
            return HttpResponseClientRedirect(queue) if request.htmx else redirect(queue)
    refusal = getattr(form, "refusal", None)
    status = refusal.status_code if refusal is not None else 400
    if request.htmx:  # htmx swaps 2xx answers only: the form comes back in place, with its errors
        return render(request, "annotation/review/item.html#resolve-form", {"review": review, "form": form})
    return render(request, "annotation/review/item.html", {"review": review, "form": form}, status=status)


class ResolveForm(forms.Form):
    """The reviewer's verdict, shaped for the item's kind, and the note.

    Checks shapes only; the rules (a ranking is a permutation, strength within the scale, ...)
    are the service's, whose errors the view adds to the form.
    """

    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Why this is the right verdict"}),
        max_length=MAX_NOTE_LENGTH,
        label="Note",
    )

    def __init__(self, *args: Any, review: ReviewItem, **kwargs: Any) -> None:
        super().__init__(*args, label_suffix="", **kwargs)
        self.kind = review.item.kind
        project = review.project
        fields: dict[str, forms.Field] = {}
        if self.kind == TaskKind.PAIRWISE:
            fields["winner"] = forms.ChoiceField(
                choices=[(value, WINNER_TEXT[value]) for value in Winner.values],
                widget=forms.RadioSelect,
                label="Final verdict",
            )
            levels = list(project.strength_levels or [])
            if levels:
                fields["strength"] = forms.TypedChoiceField(
                    choices=[("", "—")] + [(i, name) for i, name in enumerate(levels, start=1)],
                    coerce=int, empty_value=None, required=False, label="Strength",
                )
            for aspect in project.aspects or []:
                fields[f"aspect-{aspect}"] = forms.ChoiceField(
                    choices=[("", "—")] + [(value, WINNER_TEXT[value]) for value in Winner.values],
                    required=False, label=aspect.capitalize(),
                )
        elif self.kind == TaskKind.LISTWISE:
            n = len(review.responses)
            blank = [("", "not ranked")] if project.allow_partial_ranking else [("", "—")]
            for position, response in enumerate(review.responses):
                fields[f"rank-{position}"] = forms.TypedChoiceField(
                    choices=blank + [(rank, f"{rank}") for rank in range(1, n + 1)],
                    coerce=int, empty_value=None, required=not project.allow_partial_ranking,
                    label=f"Rank of {response.letter}",
                )
        elif self.kind == TaskKind.THUMBS:
            fields["thumbs"] = forms.ChoiceField(
                choices=[("up", "Thumbs up"), ("down", "Thumbs down")], widget=forms.RadioSelect, label="Final verdict"
            )
        else:
            fields["edited_text"] = forms.CharField(
                widget=forms.Textarea(attrs={"rows": 8}), strip=False, label="Final text",
                initial=review.responses[0].text if review.responses else "",
            )
        # The verdict first, the note last.
        self.fields = {**fields, "note": self.fields["note"]}

    def payload(self) -> dict[str, Any]:
        """The label payload of annotation.services.labels (call after is_valid)."""
        data = self.cleaned_data
        if self.kind == TaskKind.PAIRWISE:
            aspects = {
                name.removeprefix("aspect-"): verdict
                for name, verdict in data.items()
                if name.startswith("aspect-") and verdict
            }
            return {"winner": data["winner"], "strength": data.get("strength"), "aspects": aspects or None}
        if self.kind == TaskKind.LISTWISE:
            groups: dict[int, list[int]] = {}
            for name, rank in data.items():
                if name.startswith("rank-") and rank is not None:
                    groups.setdefault(rank, []).append(int(name.removeprefix("rank-")))
            # Equal ranks are a tie; the numbers only order the groups, so 1, 1, 3 and 1, 1, 2 agree.
            return {"ranking": [sorted(groups[rank]) for rank in sorted(groups)] or None}
        if self.kind == TaskKind.THUMBS:
            return {"thumbs": data["thumbs"]}
        return {"edited_text": data["edited_text"]}


class ReferenceForm(forms.Form):
    """An owner's gold reference for the item: a pair's winner, or a list's ranking as tie groups (JSON)."""

    def __init__(self, *args: Any, item: Any, **kwargs: Any) -> None:
        super().__init__(*args, label_suffix="", **kwargs)
        self.kind = item.kind
        current = item.reference or {}
        if self.kind == TaskKind.PAIRWISE:
            self.fields["winner"] = forms.ChoiceField(
                choices=[("", "No reference"), ("A", "A is better"), ("B", "B is better"), ("tie", "Tie")],
                required=False, initial=current.get("winner", ""), label="Reference verdict")
        else:
            self.fields["ranking"] = forms.CharField(
                required=False, label="Reference ranking",
                initial=json.dumps(current["ranking"]) if current.get("ranking") else "",
                help_text="Tie groups of positions (A = 0), best first, e.g. [[1], [0, 2]]; empty = none.")

    def reference(self) -> Any:
        """The value for item_reference_set (None clears); a ranking that is not JSON is a form error."""
        if self.kind == TaskKind.PAIRWISE:
            return self.cleaned_data["winner"] or None
        text = self.cleaned_data["ranking"].strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            self.add_error("ranking", "write the ranking as JSON, e.g. [[1], [0, 2]]")
            return None


@require_POST
@login_required
def review_item_reference(request: HttpRequest, slug: str, item_id: int) -> HttpResponse:
    """An owner sets or clears the item's gold reference; back to the item page (errors shown there)."""
    review = review_item_for_user(user=request.user, slug=slug, item_id=item_id)
    form = ReferenceForm(request.POST, item=review.item)
    if form.is_valid():
        value = form.reference()
        if form.is_valid():
            with refusals_on(form, put=lambda exc: form.add_error(None, exc.message)):
                item_reference_set(item_id=review.item.pk, user=request.user, reference=value)
                messages.success(request, "Reference saved." if value is not None else "Reference cleared.")
                return redirect(reverse("review-item", kwargs={"slug": slug, "item_id": item_id}))
    review = review_item_for_user(user=request.user, slug=slug, item_id=item_id)
    return render(request, "annotation/review/item.html",
                  {"review": review, "form": ResolveForm(review=review), "reference_form": form}, status=400)
