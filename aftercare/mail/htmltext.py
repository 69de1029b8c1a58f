"""HTML from inbound mail: sanitising for display and rendering as plain text.

Both functions accept any string, however malformed, and never raise for bad markup.
The work stays linear in the size of the input: :func:`prepare_html` first removes the
constructs html5ever is quadratic on (deep nesting, "&"-heavy text, huge tags), then nh3
(html5ever, in Rust) turns tag soup into well-formed HTML, and only that normalised
output is read with the stdlib ``html.parser`` for the text rendering.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nh3

__all__ = ["html_to_text", "prepare_html", "sanitise_html"]

# Ordinary formatting, tables and lists. No forms, frames, media or scripting.
_TAGS = {
    "a", "abbr", "acronym", "b", "bdi", "bdo", "blockquote", "br", "caption", "center",
    "cite", "code", "col", "colgroup", "dd", "del", "details", "dfn", "div", "dl", "dt",
    "em", "figcaption", "figure", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
    "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span",
    "strike", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th",
    "thead", "tr", "tt", "u", "ul", "var", "wbr",
}  # fmt: skip

# Elements removed together with their content.
_DROP_WITH_CONTENT = {
    "script", "style", "title", "iframe", "frame", "frameset", "object", "embed", "applet",
    "noscript", "noembed", "noframes", "template", "svg", "math", "select", "textarea",
    "xmp", "plaintext",
}  # fmt: skip

_CELL_ATTRS = {"colspan", "rowspan", "align", "valign", "width"}
_ATTRIBUTES = {
    "*": {"title", "lang", "dir", "style"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": _CELL_ATTRS,
    "th": _CELL_ATTRS | {"scope"},
    "table": {"border", "cellpadding", "cellspacing", "width", "align"},
    "col": {"span", "width"},
    "colgroup": {"span", "width"},
    "ol": {"start", "type"},
    "ul": {"type"},
    "li": {"value"},
    "font": {"color", "size", "face"},
    "blockquote": {"type"},
    "p": {"align"},
    "div": {"align"},
}
_STYLE_PROPERTIES = {
    "color", "background-color", "font-weight", "font-style", "font-size", "font-family",
    "text-decoration", "text-align", "vertical-align", "white-space", "width", "height",
    "margin-left", "padding-left", "border-left",
}  # fmt: skip
_URL_SCHEMES = {"http", "https", "mailto", "tel", "cid"}
LINK_REL = "noopener noreferrer nofollow"


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    if tag == "img" and attr == "src":
        # Remote images are trackers and data: URIs are a smuggling route: only parts of
        # this very message (cid:) may be shown.
        return value if value.strip().lower().startswith("cid:") else None
    if attr == "href" and value.strip().lower().startswith("cid:"):
        return None
    return value


_MAX_NESTING = 200
_MAX_TAG_LENGTH = 8000
_AMPERSANDS_PER_TEXT_NODE = 100
_TAG_NAME = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]{0,40})")
_BARE_CHARREF = re.compile(r"&#(?![0-9]|[xX][0-9A-Fa-f])")
_VOID = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
    "source", "track", "wbr", "keygen", "command", "basefont", "bgsound", "frame",
}  # fmt: skip
# Elements that close their own kind implicitly: they do not make the tree deeper.
_SELF_CLOSING_KINDS = {"p", "li", "dt", "dd", "td", "th", "tr", "option", "optgroup"}


def _split_text(text: str, out: list[str]) -> None:
    """Append ``text``, with an invisible <wbr> before every 100th "&"."""
    if text.count("&") < _AMPERSANDS_PER_TEXT_NODE:
        out.append(text)
        return
    seen = 0
    start = 0
    position = text.find("&")
    while position >= 0:
        seen += 1
        if seen % _AMPERSANDS_PER_TEXT_NODE == 0:
            out.append(text[start:position])
            out.append("<wbr>")
            start = position
        position = text.find("&", position + 1)
    out.append(text[start:])


def prepare_html(html: str, max_depth: int = _MAX_NESTING) -> str:
    """Make markup safe to hand to html5ever in linear time.

    html5ever (inside nh3) is quadratic on some inputs: deeply nested elements (it checks
    the stack of open elements for many tags), text nodes with many "&" (each character
    reference copies the node's text so far), bare "&#" runs and huge tags. One linear
    pass fixes all of them without changing what a reader sees:

    * tags that would nest elements deeper than ``max_depth`` are dropped (their text
      stays; real mail nests a few dozen levels);
    * an invisible ``<wbr>`` is put before every 100th "&" of a text run;
    * "&#" without digits becomes "&amp;#" (it is literal text anyway);
    * a tag longer than 8,000 characters is dropped.
    """
    if not html:
        return ""
    html = _BARE_CHARREF.sub("&amp;#", html)
    if "<" not in html and html.count("&") < _AMPERSANDS_PER_TEXT_NODE:
        return html
    out: list[str] = []
    depth = 0
    dropped: dict[str, int] = {}
    position = 0
    length = len(html)
    while position < length:
        opening = html.find("<", position)
        if opening < 0:
            _split_text(html[position:], out)
            break
        _split_text(html[position:opening], out)
        closing = html.find(">", opening + 1)
        if closing < 0:
            out.append(html[opening:])
            break
        tag = html[opening : closing + 1]
        position = closing + 1
        if len(tag) > _MAX_TAG_LENGTH:
            continue
        match = _TAG_NAME.match(tag)
        if not match:
            out.append(tag)
            continue
        end_tag, name = match.group(1), match.group(2).lower()
        if name in _VOID or name in _SELF_CLOSING_KINDS or tag.endswith("/>"):
            out.append(tag)
        elif end_tag:
            if dropped.get(name):
                dropped[name] -= 1
            else:
                depth = max(depth - 1, 0)
                out.append(tag)
        elif depth >= max_depth:
            dropped[name] = dropped.get(name, 0) + 1
        else:
            depth += 1
            out.append(tag)
    return "".join(out)


def sanitise_html(html: str) -> str:
    """Return ``html`` reduced to safe formatting markup (see the module docstring)."""
    if not html:
        return ""
    try:
        return nh3.clean(
            prepare_html(html),
            tags=_TAGS,
            clean_content_tags=_DROP_WITH_CONTENT,
            attributes=_ATTRIBUTES,
            attribute_filter=_attribute_filter,
            strip_comments=True,
            link_rel=LINK_REL,
            url_schemes=_URL_SCHEMES,
            filter_style_properties=_STYLE_PROPERTIES,
            url_relative="deny",
            set_tag_attribute_values={"a": {"target": "_blank"}},
        ).strip()
    except Exception:  # noqa: BLE001 - nh3 must never take the mail down with it
        return ""


# --------------------------------------------------------------------------- text rendering

_TEXT_TAGS = _TAGS
_TEXT_ATTRIBUTES = {"a": {"href"}, "img": {"alt", "src"}, "ol": {"start"}, "pre": set()}

# Blocks that separate their content from the surroundings by a line break ...
_BLOCK = {
    "div", "ul", "ol", "dl", "dt", "dd", "table", "tbody", "thead", "tfoot", "tr",
    "caption", "center", "details", "summary", "figure", "figcaption", "hr", "pre",
}  # fmt: skip
# ... and those that stand apart as paragraphs (a blank line before and after).
_PARAGRAPH = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"}
_CELLS = {"td", "th"}
_MAX_QUOTE_DEPTH = 20  # deeper blockquotes are rendered as plain blocks
_WS = re.compile(r"\s+")


class _Buffer:
    """Accumulates text, collapsing whitespace outside ``<pre>``."""

    def __init__(self) -> None:
        self.chunks: list[str] = []
        self.trailing_newlines = 2  # at the start, behave as after a paragraph break
        self.pending_space = False

    def text(self, data: str, pre: bool) -> None:
        if not data:
            return
        if pre:
            if self.pending_space and self.trailing_newlines == 0:
                self.chunks.append(" ")
            self.pending_space = False
            self.chunks.append(data)
            stripped = data.rstrip("\n")
            self.trailing_newlines = (
                len(data) - len(stripped) if stripped else self.trailing_newlines + len(data)
            )
            return
        data = data.replace("\xa0", " ")
        words = _WS.sub(" ", data)
        if words.startswith(" "):
            self.pending_space = True
            words = words[1:]
        if not words:
            return
        trailing = words.endswith(" ")
        if trailing:
            words = words[:-1]
        if self.pending_space and self.trailing_newlines == 0:
            self.chunks.append(" ")
        self.chunks.append(words)
        self.trailing_newlines = 0
        self.pending_space = trailing

    def newline(self, count: int = 1) -> None:
        self.pending_space = False
        if not self.chunks:
            return
        while self.trailing_newlines < count:
            self.chunks.append("\n")
            self.trailing_newlines += 1

    def raw_block(self, block: str) -> None:
        if not block:
            return
        self.newline(1)
        self.chunks.append(block)
        self.trailing_newlines = 0
        self.newline(1)

    def value(self) -> str:
        return "".join(self.chunks)


class _TextRenderer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[_Buffer] = [_Buffer()]
        self.pre = 0
        self.quote_depth = 0
        self.extra_quote_depth = 0
        self.lists: list[list[int | None]] = []  # [counter or None for bullets]
        self.links: list[tuple[str, _Buffer, int]] = []  # href, buffer, first chunk index
        self.cell_open = False

    @property
    def out(self) -> _Buffer:
        return self.stack[-1]

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "br":
            if self.out.chunks:
                self._hard_break()
            return
        if tag == "img":
            # Only images of the message itself are mentioned; remote ones are trackers
            # and decoration.
            alt = (attrs.get("alt") or "").strip()
            if alt and (attrs.get("src") or "").lower().startswith("cid:"):
                self.out.text(f"[{alt}]", False)
            return
        if tag == "hr":
            self.out.newline(1)
            self.out.text("---", False)
            self.out.newline(1)
            return
        if tag == "blockquote":
            self.out.newline(2)
            if self.quote_depth < _MAX_QUOTE_DEPTH:
                self.quote_depth += 1
                self.stack.append(_Buffer())
            else:
                self.extra_quote_depth += 1
            return
        if tag in _PARAGRAPH:
            self.out.newline(2)
        elif tag in _BLOCK:
            self.out.newline(1)
        if tag == "pre":
            self.pre += 1
        elif tag in ("ul", "ol"):
            start = None
            if tag == "ol":
                try:
                    start = int(attrs.get("start") or 1)
                except ValueError:
                    start = 1
            self.lists.append([start])
        elif tag == "li":
            self.out.newline(1)
            indent = "  " * min(max(len(self.lists) - 1, 0), 10)
            marker = "- "
            if self.lists and self.lists[-1][0] is not None:
                marker = f"{self.lists[-1][0]}. "
                self.lists[-1][0] += 1
            self.out.text(indent, True)
            self.out.text(marker, True)
        elif tag == "tr":
            self.cell_open = False
        elif tag in _CELLS:
            if self.cell_open:
                self.out.text(" ", True)
            self.cell_open = True
        elif tag == "a":
            self.links.append((attrs.get("href") or "", self.out, len(self.out.chunks)))

    def _hard_break(self):
        self.out.chunks.append("\n")
        self.out.trailing_newlines += 1
        self.out.pending_space = False

    def handle_endtag(self, tag):
        if tag == "blockquote":
            if self.extra_quote_depth:
                self.extra_quote_depth -= 1
                self.out.newline(2)
                return
            if self.quote_depth:
                self._close_quote()
            return
        if tag == "a":
            if not self.links:
                return
            href, buffer, start = self.links.pop()
            if buffer is not self.out:  # the link began outside the current quote
                return
            label = "".join(self.out.chunks[start:]).strip()
            target = href.strip()
            shown = target[7:] if target.lower().startswith("mailto:") else target
            if target and not target.startswith("#") and shown.lower() != label.lower():
                self.out.text(f" ({shown})" if label else shown, False)
            return
        if tag == "pre":
            self.pre = max(self.pre - 1, 0)
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        if tag in _PARAGRAPH:
            self.out.newline(2)
        elif tag in _BLOCK or tag == "li":
            self.out.newline(1)

    def _close_quote(self):
        inner = _normalise(self.stack.pop().value())
        self.quote_depth -= 1
        if inner:
            quoted = "\n".join(
                (">" + line) if line.startswith(">") else ("> " + line) if line else ">"
                for line in inner.split("\n")
            )
            self.out.newline(2)
            self.out.raw_block(quoted)
        self.out.newline(2)

    def handle_data(self, data):
        self.out.text(data, self.pre > 0)

    def result(self) -> str:
        while self.quote_depth:
            self._close_quote()
        return _normalise(self.out.value())


_TRAILING_WS = re.compile(r"[ \t]+\n")
_MANY_NEWLINES = re.compile(r"\n{3,}")


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _TRAILING_WS.sub("\n", text)
    text = _MANY_NEWLINES.sub("\n\n", text)
    return text.strip("\n").rstrip()


def html_to_text(html: str) -> str:
    """Render ``html`` as readable plain text (see the module docstring)."""
    if not html:
        return ""
    try:
        # html5ever normalises any tag soup into well-formed markup in linear time, so the
        # stdlib parser below never meets the malformed constructs it is slow on.
        clean = nh3.clean(
            prepare_html(html),
            tags=_TEXT_TAGS,
            clean_content_tags=_DROP_WITH_CONTENT,
            attributes=_TEXT_ATTRIBUTES,
            strip_comments=True,
            link_rel=None,
            url_schemes=_URL_SCHEMES | {"ftp"},
        )
    except Exception:  # noqa: BLE001 - fall back to dropping every tag
        clean = re.sub(r"<[^<>]*>", " ", html)
    renderer = _TextRenderer()
    try:
        renderer.feed(clean)
        renderer.close()
    except Exception:  # noqa: BLE001, S110 - render whatever was read so far
        pass
    return renderer.result()
