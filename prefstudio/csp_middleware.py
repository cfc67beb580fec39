"""django-csp's middleware, building each of the project's policies once per process instead of on every response.

django-csp 4 builds both policies (enforced and report-only) from the settings for every response, and the header
is the same string each time unless a view changes it (`@csp_update` and friends set attributes on the response)
or a template asked for a nonce. In the labeling loop that was 13 % of the server's CPU (bench/RESULTS.md, *The
labeling loop, round 5*). This subclass answers a response with neither from the two strings built once by the
library's own `build_policy`, with the library's rules for setting them (not over a header already set, not on an
exempted response or an excluded path, not on DEBUG's 404 / 500 pages); every other response goes through the
library unchanged. The strings are built again when the CSP settings change (tests' override_settings).
tests/prefstudio/test_security.py compares its headers with the library's.
"""
import functools
import http.client

from csp import middleware as csp_middleware
from csp.constants import HEADER, HEADER_REPORT_ONLY
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

_PER_RESPONSE = ("_csp_config", "_csp_update", "_csp_replace", "_csp_config_ro", "_csp_update_ro", "_csp_replace_ro")
_DEBUG_CODES = (http.client.INTERNAL_SERVER_ERROR, http.client.NOT_FOUND)
# (header, response attribute that exempts it, settings name, report_only)
_KINDS = ((HEADER, "_csp_exempt", "CONTENT_SECURITY_POLICY", False),
          (HEADER_REPORT_ONLY, "_csp_exempt_ro", "CONTENT_SECURITY_POLICY_REPORT_ONLY", True))


@functools.cache
def _policies() -> tuple[tuple[str, str, str, tuple[str, ...]], ...]:
    """(header, exempt attribute, policy, excluded path prefixes) of each policy the settings set."""
    built = []
    for header, exempt, name, report_only in _KINDS:
        policy = csp_middleware.build_policy(report_only=report_only)
        if policy:
            prefixes = tuple((getattr(settings, name, None) or {}).get("EXCLUDE_URL_PREFIXES", None) or ())
            built.append((header, exempt, policy, prefixes))
    return tuple(built)


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _policies.cache_clear()


class CSPMiddleware(csp_middleware.CSPMiddleware):
    def process_response(self, request, response):
        if getattr(request, "_csp_nonce", None) is not None or any(hasattr(response, a) for a in _PER_RESPONSE):
            return super().process_response(request, response)
        if response.status_code in _DEBUG_CODES and settings.DEBUG:
            return response
        for header, exempt, policy, prefixes in _policies():
            if (header not in response and getattr(response, exempt, False) is False
                    and not request.path_info.startswith(prefixes)):
                response[header] = policy
        # As the library: a nonce asked for after the header was written is an error, not a silent gap.
        request.csp_nonce = csp_middleware.CheckableLazyObject(self._csp_nonce_post_response)
        return response
