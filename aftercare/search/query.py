"""Reading the index: who may match what, ranking, and highlighted snippets.

Visibility is the desk's rule (``visible_tickets``), applied inside the ranking query so
the best 50 are the best 50 the reader may see; internal documents are searched only for
staff holding ``desk.view_internal_note``. Snippets are cut in Python from the original
text of the documents the reader may search, every piece escaped, matches wrapped in
``<mark>``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from aftercare.accounts.roles import PermSet
from aftercare.desk.models import Ticket
from aftercare.desk.querysets import visible_tickets
from aftercare.search import backend
from aftercare.search.fold import original_words, query_words
from aftercare.search.models import SearchDocument

LIMIT = 50  # the best this many, shown PAGE_SIZE at a time
PAGE_SIZE = 20
SNIPPET_WIDTH = 200
MAX_QUERY_LENGTH = 200
_NUMBER = re.compile(r"^[A-Za-z]+-\d{4}-\d+$")

SOURCES = {
    (SearchDocument.Kind.PUBLIC, "body"): _("Description or reply"),
    (SearchDocument.Kind.PUBLIC, "names"): _("Reporter, customer or file name"),
    (SearchDocument.Kind.INTERNAL, "body"): _("Internal note"),
    (SearchDocument.Kind.INTERNAL, "names"): _("Internal file"),
}


@dataclass
class Hit:
    ticket: Ticket
    score: float
    exact: bool
    subject_html: SafeString
    snippet_html: SafeString | None = None
    source: str = ""
    internal: bool = False


@dataclass
class Results:
    text: str
    words: list[str] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    more: bool = False
    page: int = 1
    total: int = 0
    next_page: int | None = None
    previous_page: int | None = None


def searchable_kinds(permset: PermSet) -> list[str]:
    if permset.is_agent and permset.has("desk.view_internal_note"):
        return [SearchDocument.Kind.PUBLIC, SearchDocument.Kind.INTERNAL]
    return [SearchDocument.Kind.PUBLIC]


def _visible_sql(permset: PermSet) -> tuple[str, tuple] | None:
    if permset.is_agent and permset.agent_restricted_to is None:
        return None
    sql, params = visible_tickets(permset).values("pk").query.sql_with_params()
    return sql, tuple(params)


def scope_orgs(permset: PermSet) -> list[int] | None:
    """The organisations a reader is limited to (``None``: every one).

    Only a narrowing for the index: ``visible_tickets`` stays the rule.
    """
    if permset.is_agent:
        restricted = permset.agent_restricted_to
        return None if restricted is None else sorted(restricted)
    return sorted(permset.memberships)


def matcher(words: list[str], prefix: bool) -> Callable[[str], bool]:
    exact = set(words)
    last = words[-1] if words else ""

    def match(word: str) -> bool:
        return word in exact or (prefix and word.startswith(last))

    return match


def highlight(text: str, match: Callable[[str], bool]) -> SafeString:
    """``text`` escaped, its matching words wrapped in ``<mark>``."""
    out: list[str] = []
    pos = 0
    for start, end, word in original_words(text):
        if start < pos or not match(word):
            continue
        out.append(escape(text[pos:start]))
        out.append(f"<mark>{escape(text[start:end])}</mark>")
        pos = end
    out.append(escape(text[pos:]))
    return mark_safe("".join(out))  # noqa: S308 - every piece above is escaped


def snippet(
    text: str, match: Callable[[str], bool], width: int = SNIPPET_WIDTH
) -> SafeString | None:
    """About ``width`` characters of ``text`` around its first match, or ``None``."""
    first = next((s for s, _e, w in original_words(text) if match(w)), None)
    if first is None:
        return None
    start = max(0, first - width // 3)
    if start:
        space = text.find(" ", start, first)
        start = space + 1 if space != -1 else start
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", first, end)
        end = space if space > first else end
    piece = re.sub(r"\s+", " ", text[start:end]).strip()
    html = highlight(piece, match)
    lead = "… " if start else ""
    tail = " …" if end < len(text) else ""
    return mark_safe(f"{lead}{html}{tail}")  # noqa: S308 - ``html`` is escaped


def _is_prefix(text: str, words: list[str]) -> bool:
    return bool(words) and not text[-1:].isspace() and len(words[-1]) >= 2


def search(
    permset: PermSet, text: str, *, limit: int = LIMIT, page: int = 1, size: int | None = None
) -> Results:
    """The best ``limit`` requests for ``text`` that this reader may see.

    With ``size``, only page ``page`` of them gets its rows and snippets.
    """
    text = (text or "")[:MAX_QUERY_LENGTH]
    size = size or limit
    pages = max(1, -(-limit // size))
    page = min(max(1, page), pages)
    results = Results(text=text.strip(), page=page)
    if not permset.is_authenticated:
        return results
    words = query_words(text)
    results.words = words
    if not words:
        return results
    prefix = _is_prefix(text, words)
    kinds = searchable_kinds(permset)
    visible = visible_tickets(permset)
    exact_ids: list[int] = []
    stripped = text.strip()
    if _NUMBER.match(stripped):
        exact_ids = list(visible.filter(number=stripped.upper()).values_list("pk", flat=True))
    ranked = backend.ranked(
        words,
        prefix=prefix,
        kinds=kinds,
        visible=_visible_sql(permset),
        limit=limit + 1,
        orgs=scope_orgs(permset),
    )
    results.more = len(ranked) > limit
    scores = dict(ranked[:limit])
    if stripped.isdigit():
        # "123" is request AC-2026-000123 (whatever the year): those come first.
        suffix = f"-{int(stripped):06d}"
        exact_ids += list(
            visible.filter(pk__in=list(scores), number__endswith=suffix).values_list(
                "pk", flat=True
            )
        )
    order = list(dict.fromkeys([*exact_ids, *scores]))[:limit]
    results.total = len(order)
    if page > 1:
        results.previous_page = page - 1
    if len(order) > page * size:
        results.next_page = page + 1
    order = order[(page - 1) * size : page * size]
    tickets = visible.filter(pk__in=order).select_related("organisation", "reporter", "assignee")
    by_id = {t.pk: t for t in tickets}
    docs: dict[int, dict[str, SearchDocument]] = {}
    for doc in SearchDocument.objects.filter(ticket_id__in=list(by_id), kind__in=kinds).only(
        "ticket_id", "kind", "raw_body", "raw_names"
    ):
        docs.setdefault(doc.ticket_id, {})[doc.kind] = doc
    match = matcher(words, prefix)
    for pk in order:
        ticket = by_id.get(pk)
        if ticket is None:
            continue
        hit = Hit(
            ticket=ticket,
            score=scores.get(pk, 0.0),
            exact=pk in exact_ids,
            subject_html=highlight(ticket.subject, match),
        )
        for kind in kinds:
            doc = docs.get(pk, {}).get(kind)
            if doc is None:
                continue
            for column, raw in (("body", doc.raw_body), ("names", doc.raw_names)):
                html = snippet(raw, match)
                if html is not None:
                    hit.snippet_html, hit.source = html, str(SOURCES[(kind, column)])
                    hit.internal = kind == SearchDocument.Kind.INTERNAL
                    break
            if hit.snippet_html is not None:
                break
        results.hits.append(hit)
    return results


def ticket_filter(permset: PermSet, text: str, *, open_only: bool = False) -> Q:
    """A ``Q`` keeping the requests whose text matches ``text`` (the queue's ``q`` box).

    Combine it with a queryset that already applies the reader's visibility; internal
    notes count only for staff who may read them. Text without words matches nothing.
    ``open_only``: the queryset keeps open requests only (``OPEN_STATUSES`` or some of
    them), so only open requests' documents need to be read.
    """
    words = query_words(text or "")
    if not words:
        return Q(pk__in=[])
    sql, params = backend.matching(
        words,
        prefix=_is_prefix(text, words),
        kinds=searchable_kinds(permset),
        orgs=scope_orgs(permset),
        open_only=open_only,
    )
    return Q(pk__in=RawSQL(sql, params))  # noqa: S611 - words are bound as parameters
