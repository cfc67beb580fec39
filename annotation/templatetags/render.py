"""Rendering untrusted text (prompts, model responses, rationales, guidelines) as safe HTML.

Model output is attacker-controlled: a response may carry `<script>`, `<img onerror=…>`,
`javascript:` links or any raw HTML. It is rendered in two independent steps, so that a bug in
either alone does not open a hole:

1. markdown-it-py in CommonMark mode with raw HTML *off*: HTML in the text is escaped and shown
   as text, and its link validator drops `javascript:` / `vbscript:` / `data:` URLs;
2. nh3 (ammonia) sanitises the result against an allow-list of tags and attributes: no `on*`
   handlers, no `style`, no `class`, links only to http / https / mailto and never relative
   (a relative link in model output could point into this app), with `rel="noopener nofollow"`.

Usage: `{% load render %}{{ response.text|markdown }}`.
"""
from functools import lru_cache

import nh3
from django import template
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml

register = template.Library()

ALLOWED_TAGS = frozenset(
    {
        "p", "br", "pre", "code", "em", "strong", "s", "del", "ul", "ol", "li", "blockquote", "hr",
        "h1", "h2", "h3", "h4", "h5", "h6", "a",
        "table", "thead", "tbody", "tr", "th", "td",
    }
)
ALLOWED_ATTRIBUTES = {"a": {"href"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener nofollow"


def _image_as_link(self, tokens, idx, options, env) -> str:
    """An image becomes a link to it: no request leaves the page unless the annotator clicks."""
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env)
    src = escapeHtml(str(token.attrGet("src") or ""))
    return f'<a href="{src}">[image: {escapeHtml(alt) or "untitled"}]</a>'


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # "breaks": model output and chat messages use single newlines as line breaks.
    parser = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable(["table", "strikethrough"])
    parser.add_render_rule("image", _image_as_link)
    return parser


# Texts up to this size are rendered once per process and kept (the last CACHED_TEXTS of them): the project's
# guidelines are on every task page, and an item's prompt and responses are shown to each of its annotators. At
# most 128 x (16k characters + their HTML): about 6 MB of ASCII text per process (4 bytes a character beyond the
# Basic Multilingual Plane, so at most about 25 MB).
CACHED_TEXT_CHARS = 16_384
CACHED_TEXTS = 128


def markdown_to_html(text: str | None) -> str:
    """Markdown → sanitised HTML: safe to insert into a page as is, whatever `text` holds."""
    if not text:
        return ""
    text = str(text)
    return _render_cached(text) if len(text) <= CACHED_TEXT_CHARS else _render(text)


@lru_cache(maxsize=CACHED_TEXTS)
def _render_cached(text: str) -> str:
    return _render(text)


def _render(text: str) -> str:
    html = _parser().render(text)
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        url_relative="deny",
        link_rel=LINK_REL,
        strip_comments=True,
    )


@register.filter(name="markdown", is_safe=True)
def markdown(text: str | None) -> SafeString:
    """`{{ value|markdown }}`: untrusted markdown rendered to HTML that cannot run script."""
    return mark_safe(markdown_to_html(text))  # noqa: S308 - sanitised by nh3 just above
