"""The jobs list's query filters: ?kind=, ?state=, ?project= (an unknown value is a 400 naming the allowed ones)."""
import django_filters

from annotation.api.filters import ProjectFilter, StrictChoiceFilter

from ..models import Job, JobKind, JobState


class JobFilter(django_filters.FilterSet):
    kind = StrictChoiceFilter(choices=JobKind.choices)
    state = StrictChoiceFilter(choices=JobState.choices)
    project = ProjectFilter()

    class Meta:
        model = Job
        fields = ["kind", "state", "project"]
