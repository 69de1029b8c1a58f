"""Reading a Trello board export (pure: no database) and the default mapping rules.

Two shapes are understood: the JSON that Trello's "Print and export → Export as JSON"
writes (``actions`` hold comments and card history, ``checklists`` and ``customFields``
sit at the top level), and the reduced shape some tools write (a ``board`` object and
``comments`` keyed by card id). Both become one ``Board`` of plain dataclasses.

Trello's JSON export holds at most the newest 1000 actions, so on a busy board older
comments and creation actions may be missing; creation dates then come from the card id
(an ObjectId: its first 8 hex digits are the creation time in Unix seconds).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aftercare.desk.models import Category, Priority, Status

# Trello opened in September 2011; an id "timestamp" before that is not a timestamp.
_EARLIEST = datetime(2011, 1, 1, tzinfo=UTC)
SKIP = "skip"  # mapping value: do not import the cards of this list


class BoardError(ValueError):
    """The file is not a Trello board export we can read."""


# -- reading JSON safely ------------------------------------------------------------------

# A real export nests about eight levels deep (board → actions → data → card → …) and even
# a board with tens of thousands of cards stays far below this size. The limits keep a
# hostile or broken file (100 000 nested lists: Python's parser would die with a
# RecursionError) from crashing the import or holding the machine; they are checked
# before the JSON is parsed, so nothing is built from such a file and nothing is written.
MAX_JSON_BYTES = 256 * 1024 * 1024
MAX_JSON_DEPTH = 64
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_SQUARE = str.maketrans("{}", "[]")


def json_depth(text: str, *, stop_above: int | None = None) -> int:
    """How deeply arrays and objects nest in ``text`` (brackets inside strings ignored).

    Exact for valid JSON; stops at ``stop_above + 1`` once that is exceeded. Each pass
    removes the innermost empty pairs (C speed, however big the file). Unbalanced
    leftovers (invalid JSON) are not counted: the parser reports those.
    """
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)).translate(_SQUARE)
    depth = 0
    while "[]" in brackets:
        if stop_above is not None and depth > stop_above:
            break
        brackets = brackets.replace("[]", "")
        depth += 1
    return depth


def read_json(path: str | Path, *, max_bytes: int | None = None, max_depth: int | None = None):
    """The decoded JSON of a file, refusing one too large or nested too deeply.

    Raises ``OSError`` (cannot read), ``BoardError`` (over a limit) or ``ValueError`` (not
    JSON). The size is checked before the file is read, the depth before it is parsed.
    """
    max_bytes = MAX_JSON_BYTES if max_bytes is None else max_bytes
    max_depth = MAX_JSON_DEPTH if max_depth is None else max_depth
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise BoardError(
            f"the file has {size:,} bytes, more than the {max_bytes:,} an import accepts"
        )
    with path.open("rb") as handle:
        data = handle.read(max_bytes + 1)  # a file that grew meanwhile is still bounded
    if len(data) > max_bytes:
        raise BoardError(f"the file has more than the {max_bytes:,} bytes an import accepts")
    text = data.decode("utf-8-sig")  # UnicodeDecodeError is a ValueError
    depth = json_depth(text, stop_above=max_depth)
    if depth > max_depth:
        raise BoardError(
            f"the JSON nests more than {max_depth} levels deep; a Trello export nests "
            "about eight: this is not an export we can read"
        )
    try:
        return json.loads(text)
    except RecursionError as exc:  # cannot happen after the depth check; never a traceback
        raise BoardError("the JSON nests too deeply to be read") from exc


@dataclass(frozen=True)
class Member:
    key: str  # stable identity: the Trello id, else "username:…", else "name:…"
    id: str = ""
    username: str = ""
    full_name: str = ""
    email: str = ""

    @property
    def label(self) -> str:
        return self.full_name or self.username or self.id


@dataclass(frozen=True)
class Label:
    name: str
    color: str

    @property
    def label(self) -> str:
        return self.name or self.color


@dataclass
class Comment:
    id: str
    card_id: str
    text: str
    date: datetime
    author: Member | None


@dataclass
class Checklist:
    name: str
    items: list[tuple[str, bool]]  # (text, done)


@dataclass
class Attachment:
    name: str
    url: str
    date: datetime | None


@dataclass
class Card:
    id: str
    name: str
    desc: str
    list_id: str
    closed: bool
    pos: float
    url: str
    created_at: datetime
    creator: Member | None = None
    last_activity: datetime | None = None
    list_changed_at: datetime | None = None
    closed_at: datetime | None = None
    due: datetime | None = None
    due_complete: bool = False
    labels: list[Label] = field(default_factory=list)
    member_ids: list[str] = field(default_factory=list)
    checklists: list[Checklist] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    custom_fields: list[tuple[str, str]] = field(default_factory=list)  # (name, value)
    comments: list[Comment] = field(default_factory=list)


@dataclass
class TrelloList:
    id: str
    name: str
    closed: bool = False


@dataclass
class Board:
    id: str
    name: str
    url: str
    lists: dict[str, TrelloList]
    cards: list[Card]
    members: dict[str, Member]

    @property
    def comment_count(self) -> int:
        return sum(len(c.comments) for c in self.cards)


# -- parsing ------------------------------------------------------------------------------


def parse_date(value) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def id_timestamp(object_id: str, now: datetime) -> datetime | None:
    """The creation instant embedded in a Trello (Mongo ObjectId) id, if it is one."""
    if not re.fullmatch(r"[0-9a-fA-F]{24}", object_id or ""):
        return None
    moment = datetime.fromtimestamp(int(object_id[:8], 16), UTC)
    return moment if _EARLIEST <= moment <= now + timedelta(days=1) else None


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _member(raw, known: dict[str, Member]) -> Member | None:
    if not isinstance(raw, dict):
        return None
    mid = _text(raw.get("id"))
    if mid and mid in known:
        return known[mid]
    username = _text(raw.get("username"))
    full_name = _text(raw.get("fullName")) or _text(raw.get("name"))
    if not (mid or username or full_name):
        return None
    key = mid or (f"username:{username.casefold()}" if username else f"name:{full_name}")
    member = Member(
        key=key, id=mid, username=username, full_name=full_name, email=_text(raw.get("email"))
    )
    if mid:
        known[mid] = member
    return member


def _dicts(value) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _custom_value(item: dict, field_def: dict) -> str:
    if item.get("idValue"):
        for option in _dicts(field_def.get("options")):
            if option.get("id") == item["idValue"]:
                return _text((option.get("value") or {}).get("text"))
        return str(item["idValue"])
    value = item.get("value") or {}
    if not isinstance(value, dict):
        return str(value)
    if "checked" in value:
        return "yes" if str(value["checked"]).lower() == "true" else "no"
    if "date" in value:
        moment = parse_date(value["date"])
        return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else str(value["date"])
    for key in ("text", "number"):
        if key in value:
            return str(value[key])
    return ", ".join(f"{k}: {v}" for k, v in value.items())


def parse_board(data, *, now: datetime) -> Board:
    """A ``Board`` from a parsed export; raises ``BoardError`` if it is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("cards"), list):
        raise BoardError("no 'cards' list: this is not a Trello board export")
    head = data["board"] if isinstance(data.get("board"), dict) else data
    members: dict[str, Member] = {}
    for raw in _dicts(data.get("members")):
        _member(raw, members)
    lists = {
        _text(raw.get("id")): TrelloList(
            id=_text(raw.get("id")), name=_text(raw.get("name")), closed=bool(raw.get("closed"))
        )
        for raw in _dicts(data.get("lists"))
        if raw.get("id")
    }
    board_labels = {raw.get("id"): raw for raw in _dicts(data.get("labels"))}
    field_defs = {raw.get("id"): raw for raw in _dicts(data.get("customFields"))}
    exported_at = parse_date(data.get("timestamp")) or parse_date(data.get("dateLastActivity"))

    created: dict[str, tuple[datetime, Member | None]] = {}
    list_moves: dict[str, datetime] = {}
    archived: dict[str, datetime] = {}
    comments: dict[str, dict[str, Comment]] = {}

    def add_comment(card_id: str, raw: dict) -> None:
        text = _text((raw.get("data") or {}).get("text"))
        date = parse_date(raw.get("date"))
        if not card_id or not text or date is None:
            return
        author = _member(raw.get("memberCreator"), members) or members.get(
            _text(raw.get("idMemberCreator"))
        )
        cid = _text(raw.get("id")) or f"{card_id}@{raw.get('date')}"
        comments.setdefault(card_id, {})[cid] = Comment(cid, card_id, text, date, author)

    for action in _dicts(data.get("actions")):
        kind = action.get("type")
        adata = action.get("data") if isinstance(action.get("data"), dict) else {}
        card_ref = adata.get("card") if isinstance(adata.get("card"), dict) else {}
        card_id = _text(card_ref.get("id"))
        date = parse_date(action.get("date"))
        if not card_id or date is None:
            continue
        if kind == "commentCard":
            add_comment(card_id, action)
        elif kind in ("createCard", "copyCard", "convertToCardFromCheckItem", "emailCard"):
            author = _member(action.get("memberCreator"), members) or members.get(
                _text(action.get("idMemberCreator"))
            )
            if card_id not in created or date < created[card_id][0]:
                created[card_id] = (date, author)
        elif kind == "updateCard":
            old = adata.get("old") if isinstance(adata.get("old"), dict) else {}
            if "idList" in old or adata.get("listAfter"):
                list_moves[card_id] = max(date, list_moves.get(card_id, date))
            if "closed" in old and card_ref.get("closed"):
                archived[card_id] = max(date, archived.get(card_id, date))
    if isinstance(data.get("comments"), dict):  # the reduced shape
        for card_id, rows in data["comments"].items():
            for raw in _dicts(rows):
                add_comment(str(card_id), raw)

    checklists: dict[str, list[Checklist]] = {}
    seen_checklists: set[str] = set()
    loose = [(raw.get("idCard"), raw) for raw in _dicts(data.get("checklists"))]
    for card in _dicts(data["cards"]):
        loose += [(card.get("id"), raw) for raw in _dicts(card.get("checklists"))]
    for card_id, raw in sorted(loose, key=lambda pair: _pos(pair[1])):
        if raw.get("id") and raw["id"] in seen_checklists:
            continue
        seen_checklists.add(raw.get("id") or id(raw))
        items = sorted(_dicts(raw.get("checkItems")), key=_pos)
        checklists.setdefault(_text(card_id), []).append(
            Checklist(
                _text(raw.get("name")),
                [(_text(i.get("name")), i.get("state") == "complete") for i in items],
            )
        )

    cards = []
    for raw in _dicts(data["cards"]):
        card_id = _text(raw.get("id"))
        if not card_id:
            raise BoardError("a card without an id")
        card_comments = sorted(comments.get(card_id, {}).values(), key=lambda c: c.date)
        when, creator = created.get(card_id, (None, None))
        last_activity = parse_date(raw.get("dateLastActivity"))
        born = id_timestamp(card_id, now) or when
        if born is None:
            # No id timestamp, no creation action: the earliest instant the export knows.
            candidates = [c.date for c in card_comments] + [
                d for d in (last_activity, exported_at) if d
            ]
            born = min(candidates, default=now)
        if creator is None and raw.get("idMemberCreator"):
            creator = members.get(_text(raw.get("idMemberCreator")))
        labels = [
            Label(_text(lab.get("name")), _text(lab.get("color")))
            for lab in _dicts(raw.get("labels"))
        ] or [
            Label(_text(board_labels[i].get("name")), _text(board_labels[i].get("color")))
            for i in raw.get("idLabels") or []
            if i in board_labels
        ]
        custom = []
        for item in _dicts(raw.get("customFieldItems")):
            field_def = field_defs.get(item.get("idCustomField"), {})
            custom.append(
                (
                    _text(field_def.get("name")) or str(item.get("idCustomField")),
                    _custom_value(item, field_def),
                )
            )
        cards.append(
            Card(
                id=card_id,
                name=_text(raw.get("name")),
                desc=raw.get("desc") if isinstance(raw.get("desc"), str) else "",
                list_id=_text(raw.get("idList")),
                closed=bool(raw.get("closed")),
                pos=_pos(raw),
                url=_text(raw.get("url")) or _text(raw.get("shortUrl")),
                created_at=born,
                creator=creator,
                last_activity=last_activity,
                list_changed_at=list_moves.get(card_id),
                closed_at=archived.get(card_id) or parse_date(raw.get("dateClosed")),
                due=parse_date(raw.get("due")),
                due_complete=bool(raw.get("dueComplete")),
                labels=labels,
                member_ids=[m for m in raw.get("idMembers") or [] if isinstance(m, str)],
                checklists=checklists.get(card_id, []),
                attachments=[
                    Attachment(
                        _text(a.get("name")) or _text(a.get("url")),
                        _text(a.get("url")),
                        parse_date(a.get("date")),
                    )
                    for a in _dicts(raw.get("attachments"))
                    if _text(a.get("url"))
                ],
                custom_fields=custom,
                comments=card_comments,
            )
        )
    return Board(
        id=_text(head.get("id")),
        name=_text(head.get("name")) or _text(head.get("id")),
        url=_text(head.get("url")),
        lists=lists,
        cards=cards,
        members=members,
    )


def _pos(raw: dict) -> float:
    try:
        return float(raw.get("pos") or 0)
    except (TypeError, ValueError):
        return 0.0


# -- default mapping rules ----------------------------------------------------------------

# First match wins, so the specific patterns come before the general ones ("ready for
# release" is Done, not Released; "waiting" beats "done" in "done, waiting for feedback").
STATUS_RULES: list[tuple[str, str]] = [
    (Status.DONE, r"(ready|waiting) for release|to release|к релизу|до релізу|на релиз|на реліз"),
    (Status.ARCHIVED, r"archiv|архив|архів"),
    (Status.REJECTED, r"reject|declin|cancel|won'?t (fix|do)|отклон|отмен|відхил|скасов"),
    (Status.RELEASED, r"releas|deployed|shipped|in production|релиз|реліз|выпущ|випущ|в проде"),
    (
        Status.WAITING,
        r"wait|on hold|blocked|pending|feedback|ожида|очіку|ждём|ждем|на паузе|на паузі",
    ),
    (
        Status.DONE,
        r"\bdone\b|complete|finished|\bclosed\b|resolved|fixed|готов|выполнено|сделано|"
        r"зроблено|виконано|заверш|закрыт|закрит|решено|вирішено",
    ),
    (
        Status.IN_PROGRESS,
        r"progress|doing|\bwip\b|working|develop|review|test|\bqa\b|в работе|в роботі|"
        r"в процесс|в процес|выполня|виконує|разработ|розроб|ревью|тестир|тестув",
    ),
    (
        Status.SPRINT,
        r"sprint|спринт|this week|next up|selected|planned|\bready\b|заплан|"
        r"на этой неделе|цього тижня",
    ),
    (
        Status.BACKLOG,
        r"backlog|to[ -]?do|icebox|\bideas?\b|\bnew\b|inbox|incoming|\bopen\b|беклог|бэклог|"
        r"бек-лог|сделать|зробити|\bнов[ыіиоа]|очеред|черга|входящ|вхідн",
    ),
]

CATEGORY_RULES: list[tuple[str, str]] = [
    (
        Category.INCIDENT,
        r"bug|incident|error|defect|crash|outage|баг|ошибк|помилк|инцидент|інцидент|сбой|збій|"
        r"дефект|авари|аварі",
    ),
    (Category.PROBLEM, r"problem|проблем"),
    (Category.DOCUMENTATION, r"\bdoc|manual|guide|документ|инструкц|інструкц|посібн"),
    (Category.IMPROVEMENT, r"improve|enhance|suggest|\bidea|улучш|покращ|предлож|пропозиц"),
    (Category.CHANGE, r"feature|change|request|доработ|доробк|фича|фіча|изменен|зміна|змін"),
    (Category.CONSULTATION, r"question|consult|support|how to|вопрос|питання|консульт"),
]

PRIORITY_RULES: list[tuple[int, str]] = [
    (
        Priority.CRITICAL,
        r"critical|urgent|blocker|asap|emergency|критич|срочн|терміново|невідклад|блокер",
    ),
    (Priority.HIGH, r"\bhigh|important|major|высок|висок|важн|важлив"),
    (Priority.LOW, r"\blow|minor|trivial|nice to have|низк|низьк|незначн"),
    (Priority.NORMAL, r"normal|medium|средн|середн|обычн|звичайн"),
]
# An unnamed label has only a colour; red is the one colour with a common meaning.
COLOUR_PRIORITY = {"red": Priority.HIGH}


def _first(rules, text: str):
    text = text.casefold()
    for value, pattern in rules:
        if re.search(pattern, text, re.IGNORECASE):
            return value
    return None


def default_status(list_name: str) -> str | None:
    return _first(STATUS_RULES, list_name)


def default_category(label_name: str) -> str | None:
    return _first(CATEGORY_RULES, label_name) if label_name else None


def default_priority(label: Label) -> int | None:
    if label.name:
        return _first(PRIORITY_RULES, label.name)
    return COLOUR_PRIORITY.get(label.color)
