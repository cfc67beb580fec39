"""The Jinja2 environment of the task page, the page an annotator loads for every label.

Why Jinja2 there and Django templates everywhere else: the task page is rendered once per label (the htmx submit
answers with the next item's page), and Django's engine spent 1.2 ms of CPU on it, a quarter of the server's time per
label (bench/RESULTS.md, "The labeling loop, round 7"). Jinja2 compiles a template to Python code; the same page
renders in a fraction of that. The other pages are rendered once per click, and stay Django templates.

Same safety as the Django pages: autoescape on, model text through `markdown` (annotation/templatetags/render.py:
markdown-it without raw HTML, then nh3), and `StrictUndefined`, so a misspelt name fails the page instead of
printing nothing. The filters are Django's own, so the two engines format the same way.
"""
from django.template import defaultfilters
from django.urls import reverse
from django.utils.html import json_script
from jinja2 import Environment, StrictUndefined

from .templatetags.render import markdown


def environment(**options) -> Environment:
    options["undefined"] = StrictUndefined  # over the backend's default (Undefined: prints nothing)
    env = Environment(**options)  # noqa: S701 - autoescape is on: Django's Jinja2 backend sets it by default
    env.globals.update({"url": lambda name, *args: reverse(name, args=args), "json_script": json_script})
    env.filters.update({
        "markdown": markdown,
        "capfirst": defaultfilters.capfirst,
        "slugify": defaultfilters.slugify,
        "timeuntil": defaultfilters.timeuntil_filter,
    })
    return env
