"""The jobs list's query filters: ?kind=, ?state=, ?project= (an unknown value is a 400 naming the allowed ones)."""
from typing import Any

import django_filters

from annotation.api.filters import ProjectFilter, StrictChoiceFilter

from ..models import Job, JobState, job_kind_choices


class JobFilter(django_filters.FilterSet):
    kind = StrictChoiceFilter(choices=job_kind_choices())
    state = StrictChoiceFilter(choices=JobState.choices)
    project = ProjectFilter()

    class Meta:
        model = Job
        fields = ["kind", "state", "project"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kind = self.filters["kind"]  # as JobStartSerializer's: the kinds of now, trainers registered later too
        kind.extra["choices"] = job_kind_choices()
        vars(kind).pop("_field", None)  # a form field built (and copied) from the earlier choices is rebuilt
