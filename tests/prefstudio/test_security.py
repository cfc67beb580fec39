"""Security settings: the Content-Security-Policy on every page, HTTPS behind HTTPS_ONLY, `check --deploy`."""
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.django_db
def test_pages_and_the_api_carry_a_strict_content_security_policy(user):
    client = Client()
    client.force_login(user)
    for url in ("/accounts/login/", "/", "/jobs/", "/api/projects/", "/api/docs/"):
        response = client.get(url)
        assert response.status_code == 200, url
        csp = policy(response)
        assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"], url
        assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"], url


@pytest.mark.django_db
def test_only_the_redoc_page_allows_inline_code(user):
    client = Client()
    client.force_login(user)
    assert "'unsafe-inline'" in policy(client.get("/api/redoc/"))["script-src"]
    swagger = client.get("/api/docs/").content.decode()
    assert "<script>" not in swagger  # the split view: its start-up code is a script file
    assert client.get("/api/docs/?script=").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("report_only", [False, True])
def test_the_cached_policy_middleware_sets_the_headers_django_csp_sets(user, settings, report_only):
    """prefstudio.csp_middleware answers from policies built once: the same headers as django-csp's own middleware,
    for plain pages and the API, a view's @csp_update, an excluded path, a response exempted or already carrying
    a header, and after the settings change."""
    from csp.constants import HEADER, HEADER_REPORT_ONLY
    from csp.middleware import CSPMiddleware as Library
    from django.http import HttpResponse
    from django.test import RequestFactory

    from prefstudio.csp_middleware import CSPMiddleware as Cached

    client = Client()
    client.force_login(user)
    if report_only:
        settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = settings.CONTENT_SECURITY_POLICY
        settings.CONTENT_SECURITY_POLICY = None
    pages = {url: client.get(url) for url in ("/", "/api/projects/", "/api/redoc/")}
    header = HEADER_REPORT_ONLY if report_only else HEADER
    assert "'unsafe-inline'" not in pages["/"][header]
    # (@csp_update changes the enforced policy only: in report-only mode the redoc page gets the plain one)
    assert ("'unsafe-inline'" in pages["/api/redoc/"][header]) is not report_only

    def both(path="/x/", **attributes):
        headers = []
        for middleware in (Library(lambda r: None), Cached(lambda r: None)):
            request = RequestFactory().get(path)
            middleware.process_request(request)
            response = HttpResponse("ok")
            for name, value in attributes.items():
                if name.startswith("_"):
                    setattr(response, name, value)
                else:
                    response[name.replace("_", "-")] = value
            middleware.process_response(request, response)
            headers.append((response.get(HEADER), response.get(HEADER_REPORT_ONLY)))
        assert headers[0] == headers[1], (path, attributes)
        return headers[1]

    for url, response in pages.items():  # what the pages got is what the library sets for the same view
        assert response[header] == both(url, **({"_csp_update": {"script-src": ["'unsafe-inline'"],
                                                                 "style-src": ["'unsafe-inline'"]}}
                                                 if "redoc" in url else {}))[int(report_only)], url
    assert both(**{"Content_Security_Policy": "default-src 'none'"})[0] == "default-src 'none'"  # kept as set
    assert both(_csp_exempt=True, _csp_exempt_ro=True) == (None, None)
    assert both(_csp_replace={"img-src": None})[int(report_only)] is not None
    policy_name = "CONTENT_SECURITY_POLICY_REPORT_ONLY" if report_only else "CONTENT_SECURITY_POLICY"
    setattr(settings, policy_name, {**getattr(settings, policy_name), "EXCLUDE_URL_PREFIXES": ["/api/"]})
    assert both("/api/projects/") == (None, None) and both("/")[int(report_only)] is not None
    setattr(settings, policy_name, {"DIRECTIVES": {"default-src": ["'none'"]}})
    assert both()[int(report_only)] == "default-src 'none'"


def test_no_template_has_inline_script_or_style():
    """What the policy would block: <script> without src, <style> blocks, style="" attributes, on*= handlers.
    (json_script's JSON blocks are made at render time and are never run, so the policy allows them.)"""
    offenders = []
    for path in sorted([*ROOT.glob("templates/**/*.html"), *ROOT.glob("templates/**/*.jinja")]):
        text = path.read_text()
        for pattern in (r"<script(?![^>]*\bsrc=)[^>]*>", r"<style\b", r"\sstyle=", r"\son[a-z]+=", r"hx-on"):
            offenders += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in re.finditer(pattern, text)]
    assert offenders == []


@pytest.mark.django_db
def test_https_settings_are_off_by_default_and_hsts_and_redirect_follow_them(settings):
    assert settings.SECURE_SSL_REDIRECT is False and settings.SECURE_HSTS_SECONDS == 0  # make run, tests
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    plain = Client().get("/accounts/login/")
    assert plain.status_code == 301 and plain["Location"] == "https://testserver/accounts/login/"
    secure = Client().get("/accounts/login/", secure=True)
    assert secure.status_code == 200 and secure["Strict-Transport-Security"].startswith("max-age=31536000")


def run_deploy_check(**env: str) -> subprocess.CompletedProcess:
    # DJANGO_ALLOW_ASYNC_UNSAFE: the browser tests set it in this process (Playwright runs an event loop); it is no
    # production setting, and check --deploy rightly refuses it.
    leave_out = ("DEBUG", "HTTPS_ONLY", "SECURE_COOKIES", "DJANGO_ALLOW_ASYNC_UNSAFE")
    base = {k: v for k, v in os.environ.items() if k not in leave_out}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings():
    production = {
        "DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "prefstudio.example.org",
        "HTTPS_ONLY": "1", "BEHIND_TLS_PROXY": "1",
    }
    done = run_deploy_check(**production)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout
    # Without HTTPS_ONLY the same check names what is missing.
    plain = run_deploy_check(**{**production, "HTTPS_ONLY": "0"})
    assert plain.returncode != 0 and "SECURE_HSTS_SECONDS" in plain.stderr + plain.stdout


def _cookie_secure(**env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "HTTPS_ONLY", "SECURE_COOKIES", "BEHIND_TLS_PROXY")}
    code = "import django; django.setup(); from django.conf import settings as s; " \
           "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**base, "DEBUG": "0", **env},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_cookies_are_secure_where_the_site_is_served_over_https():
    """A compose stack on plain http must be able to log in (issue 12, item 9); https turns secure cookies on."""
    assert _cookie_secure() == "False False"
    assert _cookie_secure(HTTPS_ONLY="1") == "True True"
    assert _cookie_secure(BEHIND_TLS_PROXY="1") == "True True"
    assert _cookie_secure(SECURE_COOKIES="1") == "True True"  # an explicit setting wins
