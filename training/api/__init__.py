"""REST API of jobs, as annotation/api is laid out: views (thin), serializers, filters, urls."""
