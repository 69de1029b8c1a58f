"""Article text → safe HTML: a small Markdown-like subset, built from escaped text.

Everything the author wrote is escaped first; only the few constructs below become
tags, and the result still passes through nh3 with an allow-list (defence in depth: a
bug here cannot let a script or an event handler through). Links become ``<a>`` only for
http(s) addresses and carry ``rel="nofollow noopener noreferrer"``.
"""

from __future__ import annotations

import re

import nh3
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

ALLOWED_TAGS = {"p", "br", "h2", "h3", "h4", "ul", "ol", "li", "pre", "code", "strong", "a"}
_URL = re.compile(r"\bhttps?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")
_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"\*\*([^*\n]+)\*\*")
_HEADING = re.compile(r"^(#{1,3})\s+(.*)$")
_BULLET = re.compile(r"^[-*]\s+(.*)$")
_NUMBERED = re.compile(r"^\d+[.)]\s+(.*)$")


def _inline(text: str) -> str:
    """Escape one line, then mark up code, bold and links (code is left alone)."""
    parts = _CODE.split(text)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(f"<code>{escape(part)}</code>")
            continue
        html = escape(part)
        html = _BOLD.sub(r"<strong>\1</strong>", html)
        # Escaping turned & into &amp; inside addresses; the link keeps the escaped form,
        # which browsers read back as the original address.
        html = _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', html)
        out.append(html)
    return "".join(out)


def _blocks(text: str) -> list[str]:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    html: list[str] = []
    para: list[str] = []
    items: list[str] = []
    list_tag = ""
    pre: list[str] | None = None

    def flush() -> None:
        nonlocal list_tag
        if para:
            html.append("<p>" + "<br>".join(_inline(p) for p in para) + "</p>")
            para.clear()
        if items:
            html.append(
                f"<{list_tag}>" + "".join(f"<li>{i}</li>" for i in items) + f"</{list_tag}>"
            )
            items.clear()
            list_tag = ""

    for line in lines:
        if pre is not None:
            if line.strip().startswith("```"):
                html.append("<pre><code>" + escape("\n".join(pre)) + "</code></pre>")
                pre = None
            else:
                pre.append(line)
            continue
        stripped = line.strip()
        if stripped.startswith("```"):
            flush()
            pre = []
            continue
        if not stripped:
            flush()
            continue
        heading = _HEADING.match(stripped)
        bullet = _BULLET.match(stripped)
        numbered = _NUMBERED.match(stripped)
        if heading:
            flush()
            level = len(heading.group(1)) + 1
            html.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif bullet or numbered:
            tag = "ul" if bullet else "ol"
            if para or (items and list_tag != tag):
                flush()
            list_tag = tag
            items.append(_inline((bullet or numbered).group(1)))
        else:
            if items:
                flush()
            para.append(stripped)
    if pre is not None:  # an unclosed fence keeps its text
        html.append("<pre><code>" + escape("\n".join(pre)) + "</code></pre>")
    flush()
    return html


def render(text: str) -> SafeString:
    """The article body as HTML that is safe to put in a page."""
    html = "".join(_blocks(text or ""))
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href"}},
        url_schemes={"http", "https"},
        link_rel="nofollow noopener noreferrer",
    )
    return mark_safe(clean)  # noqa: S308 - built from escaped text, then sanitised by nh3
