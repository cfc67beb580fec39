"""Query-string filters of the list endpoints (django-filter; documented in the OpenAPI schema)."""
import django_filters
from django import forms

from ..models import Item, ItemState, Label, LabelSource, Prompt, Response, ResponseOrigin, Route, TaskKind
from ..selectors.identities import annotator_ids_shown_as

NO_LABELS = "none"  # LabelSource.NONE is "", which a query string cannot tell from "no filter"


class StrictChoiceField(django_filters.fields.ChoiceField):
    """A choice parameter that is either left out (no filter) or one of the choices.

    django-filter treats `?state=` like no parameter, so a client whose variable came out empty gets every row
    instead of an error; and its message for an unknown value does not say what is allowed. Here both are a
    400 that names the allowed values.
    """

    def clean(self, value):
        if value is None:  # the parameter is not in the query string
            return ""
        allowed = ", ".join(str(key) for key, _ in self.choices if key != "")
        if value == "":
            raise forms.ValidationError(f"is empty: leave the parameter out, or give one of: {allowed}", code="empty")
        if not self.valid_value(value):
            raise forms.ValidationError(f"{value!r} is not one of: {allowed}", code="invalid_choice")
        return super().clean(value)


class StrictChoiceFilter(django_filters.ChoiceFilter):
    field_class = StrictChoiceField


class IdFilter(django_filters.Filter):
    """An exact match on an integer id (NumberFilter would accept 1.5)."""

    field_class = forms.IntegerField


class ProjectFilter(django_filters.CharFilter):
    def __init__(self, field_name: str = "project__slug", **kwargs):
        super().__init__(field_name=field_name, help_text="Project slug", **kwargs)


class PromptFilter(django_filters.FilterSet):
    project = ProjectFilter()

    class Meta:
        model = Prompt
        fields = ["project"]


class ResponseFilter(django_filters.FilterSet):
    project = ProjectFilter(field_name="prompt__project__slug")
    prompt = IdFilter(field_name="prompt_id", help_text="Prompt id")
    origin = StrictChoiceFilter(choices=ResponseOrigin.choices)

    class Meta:
        model = Response
        fields = ["project", "prompt", "origin"]


class ItemFilter(django_filters.FilterSet):
    project = ProjectFilter()
    state = StrictChoiceFilter(choices=ItemState.choices)
    kind = StrictChoiceFilter(choices=TaskKind.choices)
    route = StrictChoiceFilter(choices=Route.choices)
    source = StrictChoiceFilter(
        choices=[(NO_LABELS, "No labels"), *((v, l) for v, l in LabelSource.choices if v)], method="filter_source",
        help_text=f"Which kinds of annotator labeled the item; '{NO_LABELS}' for items without labels.",
    )
    flag = django_filters.CharFilter(field_name="flags__name", help_text="Items that carry the flag of this name.")

    class Meta:
        model = Item
        fields = ["project", "state", "kind", "route", "source", "flag"]

    def filter_source(self, queryset, name, value):
        return queryset.filter(source=LabelSource.NONE if value == NO_LABELS else value)


class LabelFilter(django_filters.FilterSet):
    project = ProjectFilter(field_name="item__project__slug")
    item = IdFilter(field_name="item_id", help_text="Item id")
    kind = StrictChoiceFilter(choices=TaskKind.choices)
    annotator = django_filters.CharFilter(
        method="filter_annotator", help_text='Annotator as shown to you: a name, or a pseudonym ("annotator 3")'
    )

    class Meta:
        model = Label
        fields = ["project", "item", "kind", "annotator"]

    def filter_annotator(self, queryset, name, value):
        # By the name the user sees, so a pseudonym finds its labels and a hidden real name finds none.
        project_ids = queryset.order_by().values_list("item__project_id", flat=True).distinct()
        return queryset.filter(annotator_ids_shown_as(user=self.request.user, project_ids=project_ids, shown=value))
