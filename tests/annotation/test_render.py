"""The `markdown` filter: untrusted model output becomes HTML that cannot run script."""
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.template import Context, Template

from annotation.templatetags.render import CACHED_TEXT_CHARS, _render_cached, markdown, markdown_to_html

HOSTILE = [
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=1">',
    "[x](javascript:window.__pwned=1)",
    "[x](JaVaScRiPt:alert(1))",
    "[x](  javascript:alert(1))",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<a href="javascript:alert(1)">raw link</a>',
    "<svg onload=alert(1)>",
    "<iframe src=https://evil.example></iframe>",
    '<div style="position:fixed;inset:0">cover</div>',
    "![x](javascript:alert(1))",
    '![x" onerror="alert(1)](https://example.com/a.png)',
    "[x](https://example.com/\" onmouseover=\"alert(1))",
    "<!-- <script>alert(1)</script> -->",
    "```html\n<script>alert(1)</script>\n```",
    "<details open ontoggle=alert(1)>",
    "<a href='https://ok.example' onclick='alert(1)'>ok</a>",
]
SAFE_TAGS = {
    "p", "br", "pre", "code", "em", "strong", "s", "del", "ul", "ol", "li", "blockquote", "hr", "a",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td",
}
SAFE_ATTRIBUTES = {"href", "rel", "start", "align"}


class Elements(HTMLParser):
    """The elements a browser would build from the HTML (escaped text is text, not elements)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag

    def handle_comment(self, data):
        self.found.append(("<!--", {"data": data}))


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_input_produces_no_executable_markup(text):
    html = markdown_to_html(text)
    for tag, attrs in Elements(html).found:
        assert tag in SAFE_TAGS, html
        assert set(attrs) <= SAFE_ATTRIBUTES, html
        href = attrs.get("href")
        assert href is None or urlsplit(href).scheme in ("http", "https", "mailto"), html
    assert html.strip(), "the text must still be shown, not dropped"


def test_raw_html_is_shown_as_text():
    html = markdown_to_html("<script>window.__pwned=1</script>")
    assert html.strip() == "<p>&lt;script&gt;window.__pwned=1&lt;/script&gt;</p>"


def test_a_javascript_link_stays_visible_as_text_and_is_not_a_link():
    html = markdown_to_html("[click me](javascript:window.__pwned=1)")
    assert "<a" not in html and "click me" in html


def test_code_blocks_survive_with_their_content_escaped():
    html = markdown_to_html("```python\nif a < b:\n    print('<b>')\n```")
    assert html.startswith("<pre><code>") and "if a &lt; b:" in html and "print('&lt;b&gt;')" in html


def test_inline_code_and_common_markdown_render():
    html = markdown_to_html(
        "Use `sorted(xs)`, **not** *bubble sort*:\n\n1. one\n2. two\n\n> quoted\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    )
    expected = ["<code>sorted(xs)</code>", "<strong>not</strong>", "<em>bubble sort</em>", "<ol>", "<blockquote>"]
    for tag in expected + ["<table>", "<td>1</td>"]:
        assert tag in html, tag


def test_safe_links_keep_their_target_and_get_rel():
    html = markdown_to_html("[docs](https://docs.python.org/3/) and [mail](mailto:a@example.com)")
    assert '<a href="https://docs.python.org/3/" rel="noopener nofollow">docs</a>' in html
    assert 'href="mailto:a@example.com"' in html


def test_relative_links_lose_their_target():
    """A relative link in model output could point into this app (say, a form that changes data)."""
    html = markdown_to_html("[log out](/accounts/logout/)")
    assert "href" not in html and "log out" in html


def test_images_become_links_so_nothing_loads_by_itself():
    html = markdown_to_html("![a chart](https://example.com/chart.png)")
    assert "<img" not in html
    assert '<a href="https://example.com/chart.png" rel="noopener nofollow">[image: a chart]</a>' in html


def test_single_newlines_are_line_breaks():
    assert markdown_to_html("one\ntwo").strip() == "<p>one<br>\ntwo</p>"


@pytest.mark.parametrize("empty", [None, ""])
def test_nothing_renders_as_nothing(empty):
    assert markdown(empty) == ""


def test_the_filter_in_a_template_is_not_escaped_twice():
    out = Template("{% load render %}{{ text|markdown }}").render(Context({"text": "**hi** <b>x</b>"}))
    assert out.strip() == "<p><strong>hi</strong> &lt;b&gt;x&lt;/b&gt;</p>"


def test_a_text_is_rendered_once_per_process_and_a_long_one_every_time():
    """The guidelines are on every task page: rendered once, then read from the cache, sanitised the same."""
    _render_cached.cache_clear()
    text = "# Guidelines\n\nBe *fair*. <script>alert(1)</script>"
    first, second = markdown_to_html(text), markdown_to_html(text)
    assert first == second and "<em>fair</em>" in first and "<script>" not in first
    assert (_render_cached.cache_info().hits, _render_cached.cache_info().misses) == (1, 1)
    long = "*word* " * (CACHED_TEXT_CHARS // 7 + 1)
    assert markdown_to_html(long).count("<em>word</em>") == CACHED_TEXT_CHARS // 7 + 1
    assert _render_cached.cache_info().currsize == 1  # not kept
