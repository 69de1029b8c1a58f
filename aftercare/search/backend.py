"""The two engines behind one interface: DDL, matching and ranking, in plain SQL.

SQLite (the embedded default): an FTS5 table ``search_fts`` over ``search_document`` as
external content, fed by triggers, ranked with bm25 (column weights: number, subject,
body, names). PostgreSQL: a generated ``tsvector`` column (``simple`` configuration: the
text is already folded, so no stemming or stop words differ between languages) with a GIN
index, ranked with ``ts_rank`` (weights A number and subject, B names, D body).

Both see only folded words of letters and digits (``fold.index_text``), so they match the
same documents; only the order among equally good matches may differ.
"""

from __future__ import annotations

from django.db import connection

# bm25 weights per FTS5 column, in the table's column order.
SQLITE_WEIGHTS = "12.0, 8.0, 1.0, 3.0, 0.0"
TEXT_COLUMNS = "{number subject body names}"

SQLITE_CREATE = [
    """CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(
        number, subject, body, names, scope,
        content='search_document', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2', prefix='2 3')""",
    """CREATE TRIGGER IF NOT EXISTS search_document_ai AFTER INSERT ON search_document BEGIN
        INSERT INTO search_fts(rowid, number, subject, body, names, scope)
        VALUES (new.id, new.number, new.subject, new.body, new.names, new.scope);
    END""",
    """CREATE TRIGGER IF NOT EXISTS search_document_ad AFTER DELETE ON search_document BEGIN
        INSERT INTO search_fts(search_fts, rowid, number, subject, body, names, scope)
        VALUES ('delete', old.id, old.number, old.subject, old.body, old.names, old.scope);
    END""",
    """CREATE TRIGGER IF NOT EXISTS search_document_au AFTER UPDATE ON search_document BEGIN
        INSERT INTO search_fts(search_fts, rowid, number, subject, body, names, scope)
        VALUES ('delete', old.id, old.number, old.subject, old.body, old.names, old.scope);
        INSERT INTO search_fts(rowid, number, subject, body, names, scope)
        VALUES (new.id, new.number, new.subject, new.body, new.names, new.scope);
    END""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS search_document_au",
    "DROP TRIGGER IF EXISTS search_document_ad",
    "DROP TRIGGER IF EXISTS search_document_ai",
    "DROP TABLE IF EXISTS search_fts",
]
POSTGRES_CREATE = [
    """ALTER TABLE search_document ADD COLUMN vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple'::regconfig, number), 'A')
        || setweight(to_tsvector('simple'::regconfig, subject), 'A')
        || setweight(to_tsvector('simple'::regconfig, names), 'B')
        || setweight(to_tsvector('simple'::regconfig, body), 'D')) STORED""",
    "CREATE INDEX search_document_vector ON search_document USING gin (vector)",
]
# The open requests' documents alone (``matching(open_only=True)``); created by migration
# 0002, which also adds ``is_open``.
POSTGRES_OPEN_INDEX = (
    "CREATE INDEX IF NOT EXISTS search_document_open_vector "
    "ON search_document USING gin (vector) WHERE is_open"
)
POSTGRES_OPEN_INDEX_DROP = "DROP INDEX IF EXISTS search_document_open_vector"
POSTGRES_DROP = [
    POSTGRES_OPEN_INDEX_DROP,
    "DROP INDEX IF EXISTS search_document_vector",
    "ALTER TABLE search_document DROP COLUMN IF EXISTS vector",
]


def create(schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    statements = {"sqlite": SQLITE_CREATE, "postgresql": POSTGRES_CREATE}.get(vendor, [])
    for sql in statements:
        schema_editor.execute(sql)


def drop(schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    statements = {"sqlite": SQLITE_DROP, "postgresql": POSTGRES_DROP}.get(vendor, [])
    for sql in statements:
        schema_editor.execute(sql)


def clear() -> None:
    """Empty the engine's own structures after the documents were deleted."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO search_fts(search_fts) VALUES ('delete-all')")


def optimise() -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("INSERT INTO search_fts(search_fts) VALUES ('optimize')")
        elif connection.vendor == "postgresql":
            cursor.execute("ANALYZE search_document")


def _match_sqlite(words: list[str], prefix: bool, orgs: list[int] | None = None) -> str:
    # Words are letters and digits only (fold.words), so quoting them is enough. They are
    # looked for in the text columns only, never in ``scope``.
    terms = [f'"{w}"' for w in words]
    if prefix:
        terms[-1] += "*"
    match = f"{TEXT_COLUMNS} : ({' '.join(terms)})"
    if orgs is not None:
        scopes = [f"o{int(o)}" for o in orgs] or ["onone"]
        match += f" AND scope : ({' OR '.join(scopes)})"
    return match


def _match_postgres(words: list[str], prefix: bool) -> str:
    # No weight restriction (``:ABD``): GIN cannot check weights, so PostgreSQL would
    # re-read every candidate's vector. The organisation narrowing is SQLite's only: on
    # PostgreSQL the ``visible`` subquery is cheap enough.
    terms = [f"'{w}'" for w in words]
    if prefix:
        terms[-1] += ":*"
    return " & ".join(terms)


# Ranking looks at the newest matching documents only: a word in most requests ("error")
# would otherwise have every one of them scored on every keystroke. Among this many the
# best are found; older matches appear when more words narrow the search.
CANDIDATES = 1000
# The queue's text filter keeps at most this many of the newest matching requests.
FILTER_LIMIT = 5000


def ranked(
    words: list[str],
    *,
    prefix: bool,
    kinds: list[str],
    visible: tuple[str, tuple] | None,
    limit: int,
    orgs: list[int] | None = None,
    candidates: int = CANDIDATES,
) -> list[tuple[int, float]]:
    """(ticket id, score) of the best matching requests, best first.

    ``visible`` is ``(sql, params)`` of a subquery of the request ids the reader may see,
    or ``None`` for a reader who sees every request; ``orgs`` (the organisations the
    reader is limited to) narrows the search inside the index first, so a customer's
    search does not wade through every other customer's matches. Higher scores are better.
    """
    if not words or not kinds:
        return []
    kind_sql = ", ".join(["%s"] * len(kinds))
    where_visible, visible_params = "", ()
    if visible is not None:
        where_visible = f" AND d.ticket_id IN ({visible[0]})"
        visible_params = tuple(visible[1])
    if connection.vendor == "postgresql":
        sql = (
            # Interpolated: placeholders and the SQL Django compiled for ``visible``.
            "SELECT c.ticket_id, ts_rank(c.vector, q.query) FROM ("  # noqa: S608
            "SELECT d.ticket_id, d.vector FROM search_document d "
            f"WHERE d.vector @@ to_tsquery('simple', %s) AND d.kind IN ({kind_sql})"
            f"{where_visible} ORDER BY d.id DESC LIMIT %s"
            ") AS c, to_tsquery('simple', %s) AS q(query)"
        )
        match = _match_postgres(words, prefix)
        params = (match, *kinds, *visible_params, candidates, match)
    else:
        sql = (
            f"SELECT d.ticket_id, -bm25(search_fts, {SQLITE_WEIGHTS}) "  # noqa: S608
            "FROM search_fts JOIN search_document d ON d.id = search_fts.rowid "
            f"WHERE search_fts MATCH %s AND d.kind IN ({kind_sql}){where_visible} "
            "ORDER BY search_fts.rowid DESC LIMIT %s"
        )
        params = (_match_sqlite(words, prefix, orgs), *kinds, *visible_params, candidates)
    best: dict[int, float] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for ticket_id, score in cursor.fetchall():
            if score > best.get(ticket_id, float("-inf")):
                best[ticket_id] = float(score)
    order = sorted(best.items(), key=lambda item: (-item[1], -item[0]))
    return order[:limit]


def matching(
    words: list[str],
    *,
    prefix: bool,
    kinds: list[str],
    orgs: list[int] | None = None,
    open_only: bool = False,
) -> tuple[str, tuple]:
    """SQL (and params) of the ids of the requests matching ``words``, for ``pk__in``
    filters.

    Visibility is the caller's (it filters a queryset that applies it); ``orgs`` narrows
    inside the index as in ``ranked``.

    PostgreSQL gets every match, unbounded: the planner turns ``pk IN (…)`` into a semi
    join and, for a queue page, walks the queue's own index (the open requests in the
    queue's order) and looks up each request's documents by ``ticket_id`` until the page
    is full, so the cost follows the open set, not the history. (The newest
    ``FILTER_LIMIT`` matches, as before, made it walk 175k documents backwards at 1M
    requests for a word in 3 % of them.) With ``open_only`` (the caller keeps open
    requests only) it reads the open documents' own GIN index: at a million requests the
    count of the matching open requests went from ~40 to ~5 ms. The caller's status filter
    still decides; ``is_open`` only narrows what is read. SQLite's FTS5 cannot be asked per
    request; it keeps the newest ``FILTER_LIMIT`` matches.
    """
    kind_sql = ", ".join(["%s"] * len(kinds))
    if connection.vendor == "postgresql":
        sql = (
            "SELECT d.ticket_id FROM search_document d "  # noqa: S608 - placeholders only
            f"WHERE d.vector @@ to_tsquery('simple', %s) AND d.kind IN ({kind_sql})"
            + (" AND d.is_open" if open_only else "")
        )
        return sql, (_match_postgres(words, prefix), *kinds)
    sql = (
        "SELECT d.ticket_id FROM search_fts "  # noqa: S608 - placeholders only
        "JOIN search_document d ON d.id = search_fts.rowid "
        f"WHERE search_fts MATCH %s AND d.kind IN ({kind_sql}) "
        "ORDER BY search_fts.rowid DESC LIMIT %s"
    )
    return sql, (_match_sqlite(words, prefix, orgs), *kinds, FILTER_LIMIT)
