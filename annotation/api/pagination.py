"""Page-number pagination for every list, with a bounded, strictly checked page size."""
from rest_framework.pagination import PageNumberPagination

from ..errors import PrefStudioError


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    # Bounds the work and memory of one request; export endpoints stream instead of paging.
    max_page_size = 500

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        # DRF silently falls back to the default on a bad value; a typo should be a clear 400 instead.
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if not 1 <= size <= self.max_page_size:
            raise PrefStudioError(f"page_size must be an integer from 1 to {self.max_page_size}", field="page_size")
        return size

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
            elif parameter["name"] == self.page_query_param:
                parameter["schema"].update(minimum=1)
        return parameters
