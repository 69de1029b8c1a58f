"""Requests as CSV: ``write_tickets`` for exports, ``import_csv`` for imports.

The column set is documented in docs/import-export.md; an export can be imported again
(into another organisation, say) because the import reads the export's columns and
ignores the ones it has no use for.

Spreadsheets execute cells that start with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return, so the export puts a single quote in front of such a cell (CSV injection). To make
the round trip exact the quote is added also when the text already *starts with quotes*
followed by such a character, and the import removes exactly one quote from any cell that
looks like that: export then import gives back the original text.

The import validates every row before writing anything, reports every bad row with its
line number and all its problems, and then writes the good rows in one transaction: the
file is imported whole or not at all (unless ``skip_bad_rows``), as the report promised.
"""

from __future__ import annotations

import csv
import io
import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TextIO

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from aftercare.accounts.models import User
from aftercare.desk.models import Category, Channel, Priority, Status, Ticket
from aftercare.imports import _write
from aftercare.imports.models import ImportedRecord
from aftercare.tenancy.models import Organisation

EXPORT_COLUMNS = [
    "number",
    "external_id",
    "organisation",
    "subject",
    "description",
    "status",
    "category",
    "priority",
    "customer_priority",
    "channel",
    "level",
    "reporter",
    "reporter_name",
    "assignee",
    "created_at",
    "updated_at",
    "status_changed_at",
    "closed_at",
    "sla_state",
    "sla_due_at",
]
# What the import reads; the other export columns are accepted and ignored.
IMPORT_COLUMNS = [
    "external_id",
    "number",
    "subject",
    "description",
    "status",
    "category",
    "priority",
    "channel",
    "reporter",
    "assignee",
    "created_at",
]
FORMULA_START = re.compile(r"^'*[=+\-@\t\r]")
QUOTED_FORMULA = re.compile(r"^'+[=+\-@\t\r]")
SOURCE = ImportedRecord.Source.CSV
PRIORITY_NAMES = {int(p.value): p.name.lower() for p in Priority}


def safe_cell(value) -> str:
    """The text of a cell that a spreadsheet will show, never evaluate."""
    text = "" if value is None else str(value)
    return "'" + text if FORMULA_START.match(text) else text


def unsafe_cell(text: str) -> str:
    """Undo ``safe_cell``: drop the one quote it added."""
    return text[1:] if QUOTED_FORMULA.match(text) else text


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else ""


def _person(user: User | None) -> str:
    return (user.email or user.username) if user else ""


def write_tickets(queryset: QuerySet[Ticket], stream: TextIO, *, delimiter: str = ",") -> int:
    """Write ``queryset`` as CSV (header first) to ``stream``; returns the row count.

    One query however many rows (people and organisation joined, the external id as a
    subquery), read in chunks so a large export does not sit in memory. The caller decides
    which tickets (``visible_tickets`` for a user, a filter for the command).
    """
    writer = csv.writer(stream, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    external = (
        ImportedRecord.objects.filter(
            ticket=OuterRef("pk"),
            kind__in=[ImportedRecord.Kind.CARD, ImportedRecord.Kind.ROW],
        )
        .order_by("pk")
        .values("external_id")[:1]
    )
    rows = queryset.select_related("organisation", "reporter", "assignee").annotate(
        export_external_id=Subquery(external)
    )
    if not rows.ordered:
        rows = rows.order_by("pk")
    count = 0
    for t in rows.iterator(chunk_size=1000):
        writer.writerow(
            safe_cell(value)
            for value in (
                t.number,
                t.export_external_id or "",
                t.organisation.code,
                t.subject,
                t.description,
                t.status,
                t.category,
                PRIORITY_NAMES.get(t.priority, t.priority),
                PRIORITY_NAMES.get(t.customer_priority, t.customer_priority),
                t.channel,
                t.level,
                _person(t.reporter),
                t.reporter.display_name,
                _person(t.assignee),
                _when(t.created_at),
                _when(t.updated_at),
                _when(t.status_changed_at),
                _when(t.closed_at),
                t.sla_state,
                _when(t.sla_due_at),
            )
        )
        count += 1
    return count


# -- import -------------------------------------------------------------------------------


class CsvFileError(ValueError):
    """The file as a whole cannot be read (encoding, header)."""


@dataclass
class BadRow:
    line: int
    reasons: list[str]

    def __str__(self) -> str:
        return _("line %(line)d: %(reasons)s") % {
            "line": self.line,
            "reasons": "; ".join(self.reasons),
        }


@dataclass
class Row:
    line: int
    key: str
    values: dict
    reporter: User
    assignee: User | None
    created_at: datetime | None
    channel: str
    action: str = "create"  # create, update, unchanged
    digest: str = ""
    record: ImportedRecord | None = None
    number: str = ""  # the "number" column: our own request, when the file is our export


@dataclass
class CsvOutcome:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    bad: list[BadRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    tickets: list[str] = field(default_factory=list)
    written: bool = False


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a BOM
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CsvFileError(
            _(
                "line %(line)d is not UTF-8. Save the file as “CSV UTF-8” (Excel) or "
                "“Text CSV” with the UTF-8 character set (LibreOffice)."
            )
            % {"line": line}
        ) from exc


def sniff_delimiter(text: str) -> str:
    """The delimiter the header line uses: ``,`` or ``;`` (European Excel) or a tab.

    The header is the one line whose cells never contain a delimiter, so counting there is
    more reliable than ``csv.Sniffer`` on rows with quoted multi-line descriptions.
    """
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_csv(data: bytes) -> tuple[list[str], list[tuple[int, dict[str, str]]], list[str]]:
    """Header, rows as (first line number, {column: cell}) and warnings."""
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    try:
        header = next(reader)
    except StopIteration:
        raise CsvFileError(_("The file is empty.")) from None
    except csv.Error as exc:
        raise CsvFileError(_("line 1: %(error)s") % {"error": exc}) from exc
    columns = [re.sub(r"\s+", "_", h.strip().lstrip("\ufeff").lower()) for h in header]
    if "subject" not in columns:
        raise CsvFileError(
            _("The header (line 1) has no “subject” column. Columns read: %(columns)s")
            % {"columns": ", ".join(IMPORT_COLUMNS)}
        )
    doubled = sorted({c for c in columns if c and columns.count(c) > 1})
    if doubled:
        raise CsvFileError(
            _("The header names these columns twice: %(columns)s") % {"columns": ", ".join(doubled)}
        )
    warnings = []
    ignored = [c for c in columns if c and c not in IMPORT_COLUMNS and c not in EXPORT_COLUMNS]
    if ignored:
        warnings.append(_("Unknown columns ignored: %(columns)s") % {"columns": ", ".join(ignored)})
    rows: list[tuple[int, dict[str, str]]] = []
    line = reader.line_num
    while True:
        start = line + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            rows.append((start, {"__error__": str(exc)}))
            break
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        row = {name: unsafe_cell(cell) for name, cell in zip(columns, cells, strict=False)}
        extra = cells[len(columns) :]
        if any(cell.strip() for cell in extra):
            row["__error__"] = _("%(n)d cells, but the header has %(m)d columns") % {
                "n": len(cells),
                "m": len(columns),
            }
        rows.append((start, row))
    return columns, rows, warnings


def _choices(enum) -> dict[str, str | int]:
    """Codes, names and labels in every language of the site → value."""
    table: dict[str, str | int] = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            for value, label in enum.choices:
                table[str(label).casefold()] = value
    for member in enum:
        table[str(member.value).casefold()] = member.value
        table[member.name.casefold()] = member.value
        table[member.name.casefold().replace("_", " ")] = member.value
    return table


def parse_when(text: str, zone: zoneinfo.ZoneInfo) -> datetime:
    """ISO 8601 (date, date and time, with or without offset) or DD.MM.YYYY [HH:MM]."""
    text = text.strip()
    moment = None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        for fmt in ("%d.%m.%Y", "%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S"):
            try:
                moment = datetime.strptime(text, fmt)  # noqa: DTZ007 - zone set below
                break
            except ValueError:
                continue
    if moment is None:
        raise ValueError(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


OUTSIDER = "outsider"  # _People.find: only users who may not be attached have the e-mail


class _People:
    """Reporters and assignees by username or e-mail, for one organisation.

    A username names one user (checked afterwards: a user of another organisation is
    refused). An e-mail address is matched only against users eligible in the
    organisation (``_write.Eligible``: staff who may see it, its members), so another
    organisation's user with the same address is never picked, nor makes it ambiguous.
    """

    def __init__(self, organisation: Organisation) -> None:
        self.organisation = organisation
        self.eligible = _write.Eligible(organisation)
        self.staff = self.eligible.staff
        self.members = self.eligible.members
        self._cache: dict[str, User | None | str] = {}

    def find(self, value: str) -> User | None | str:
        """The user, ``None`` if unknown, ``"ambiguous"`` or ``OUTSIDER``."""
        key = value.strip().casefold()
        if key not in self._cache:
            user = User.objects.filter(username=value.strip()).first()
            if user is None:
                found, total = self.eligible.by_email(value)
                if len(found) == 1:
                    user = found[0]
                elif found:
                    user = "ambiguous"
                elif total:
                    user = OUTSIDER
            self._cache[key] = user
        return self._cache[key]


def validate(
    rows: list[tuple[int, dict[str, str]]], organisation: Organisation, *, now: datetime
) -> tuple[list[Row], list[BadRow]]:
    """Every row checked; all reasons of every bad row, with its line number."""
    statuses, categories = _choices(Status), _choices(Category)
    priorities, channels = _choices(Priority), _choices(Channel)
    people = _People(organisation)
    good: list[Row] = []
    bad: list[BadRow] = []
    seen: dict[str, int] = {}
    for line, cells in rows:
        reasons: list[str] = []
        if "__error__" in cells:
            reasons.append(cells["__error__"])

        def pick(name: str, table, default, what: str, choices: list):
            raw = cells.get(name, "").strip()
            if not raw:
                return default
            value = table.get(raw.casefold())
            if value is None:
                reasons.append(
                    _("unknown %(what)s “%(value)s” (use one of: %(choices)s)")
                    % {
                        "what": what,
                        "value": raw,
                        "choices": ", ".join(str(c) for c in choices),
                    }
                )
            return value

        subject = cells.get("subject", "").strip()
        if not subject:
            reasons.append(_("the subject is missing"))
        elif len(subject) > 250:
            reasons.append(_("the subject is longer than 250 characters"))
        status = pick("status", statuses, Status.BACKLOG, _("status"), Status.values)
        category = pick("category", categories, Category.INCIDENT, _("category"), Category.values)
        priority = pick(
            "priority", priorities, Priority.NORMAL, _("priority"), list(PRIORITY_NAMES.values())
        )
        channel = pick("channel", channels, Channel.API, _("channel"), Channel.values)

        reporter = None
        raw_reporter = cells.get("reporter", "").strip()
        if not raw_reporter:
            reasons.append(_("the reporter is missing"))
        else:
            found = people.find(raw_reporter)
            if found is None:
                reasons.append(
                    _("unknown reporter “%(who)s” (no user has this e-mail or username)")
                    % {"who": raw_reporter}
                )
            elif found == "ambiguous":
                reasons.append(
                    _("reporter “%(who)s”: several users have this e-mail; use the username")
                    % {"who": raw_reporter}
                )
            elif found == OUTSIDER or (
                found.pk not in people.members
                and not people.staff(found)
                and found.username != _write.IMPORTER_USERNAME  # reporter of unknown origin
            ):
                reasons.append(
                    _("reporter “%(who)s” is not a member of %(org)s")
                    % {"who": raw_reporter, "org": organisation.name}
                )
            else:
                reporter = found
        assignee = None
        raw_assignee = cells.get("assignee", "").strip()
        if raw_assignee:
            found = people.find(raw_assignee)
            if found == OUTSIDER or (isinstance(found, User) and not people.staff(found)):
                if found == OUTSIDER or people.staff.is_agent(found):
                    reasons.append(
                        _("assignee “%(who)s” may not see %(org)s (restricted to others)")
                        % {"who": raw_assignee, "org": organisation.name}
                    )
                else:
                    reasons.append(
                        _("assignee “%(who)s” is not on the service desk staff")
                        % {"who": raw_assignee}
                    )
            elif not isinstance(found, User):
                reasons.append(_("unknown assignee “%(who)s”") % {"who": raw_assignee})
            else:
                assignee = found
        created_at = None
        raw_date = cells.get("created_at", "").strip()
        if raw_date:
            try:
                created_at = parse_when(raw_date, organisation.zone)
            except ValueError:
                reasons.append(
                    _(
                        "bad date “%(value)s” in created_at (use YYYY-MM-DD, "
                        "YYYY-MM-DD HH:MM[+01:00] or DD.MM.YYYY)"
                    )
                    % {"value": raw_date}
                )
            else:
                if created_at > now:
                    reasons.append(_("created_at %(value)s is in the future") % {"value": raw_date})
        key = cells.get("external_id", "").strip() or cells.get("number", "").strip()
        if key and key in seen:
            reasons.append(
                _("the id “%(key)s” appears again (first on line %(line)d)")
                % {"key": key, "line": seen[key]}
            )
        elif key:
            seen[key] = line
        if reasons:
            bad.append(BadRow(line, reasons))
            continue
        description = cells.get("description", "").strip() or subject
        good.append(
            Row(
                line=line,
                key=key,
                values={
                    "subject": subject,
                    "description": description,
                    "category": category,
                    "priority": int(priority),
                    "status": status,
                    "assignee": assignee.pk if assignee else None,
                },
                reporter=reporter,
                assignee=assignee,
                created_at=created_at,
                channel=channel,
                number=cells.get("number", "").strip().upper(),
            )
        )
    return good, bad


def _current(ticket: Ticket) -> dict:
    """A request's values in the shape ``validate`` gives a row (a snapshot)."""
    return {
        "subject": ticket.subject,
        "description": ticket.description,
        "category": ticket.category,
        "priority": int(ticket.priority),
        "status": ticket.status,
        "assignee": ticket.assignee_id,
    }


def _own_tickets(rows: list[Row], organisation: Organisation) -> dict[str, Ticket]:
    """The requests of *this* organisation that rows without an import record name.

    An export carries each request's number (and, for an imported one, the id it came
    with): importing it back into the same organisation must find those requests, not
    copy them. Only ``organisation``'s requests are looked up, so another organisation's
    export never matches (or touches) anything but its own rows' new copies.
    """
    numbers = {r.number for r in rows if r.number}
    external = {r.key for r in rows if r.key}
    found: dict[str, Ticket] = {}
    if numbers:
        for t in Ticket.objects.filter(organisation=organisation, number__in=numbers):
            found[t.number] = t
    if external:
        cards = ImportedRecord.objects.filter(
            organisation=organisation,
            kind=ImportedRecord.Kind.CARD,
            external_id__in=external,
            ticket__organisation=organisation,
        ).select_related("ticket")
        for record in cards:
            found.setdefault(f"card:{record.external_id}", record.ticket)
    return found


def _plan(rows: list[Row], organisation: Organisation) -> None:
    keys = [r.key for r in rows if r.key]
    records = {
        r.external_id: r
        for r in ImportedRecord.objects.filter(
            organisation=organisation,
            source=SOURCE,
            kind=ImportedRecord.Kind.ROW,
            external_id__in=keys,
            ticket__isnull=False,
        ).select_related("ticket")
    }
    own = _own_tickets([r for r in rows if records.get(r.key) is None], organisation)
    for row in rows:
        row.digest = _write.content_hash(
            {**row.values, "reporter": row.reporter.pk, "created_at": row.created_at}
        )
        row.record = records.get(row.key) if row.key else None
        if row.record is None:
            ticket = own.get(row.number) or own.get(f"card:{row.key}")
            if ticket is not None:
                # Our own request coming back: compare with what it is now, and remember
                # the row (written with the update) so the next run matches it directly.
                row.record = ImportedRecord(
                    organisation=organisation,
                    source=SOURCE,
                    kind=ImportedRecord.Kind.ROW,
                    external_id=(row.key or ticket.number)[:255],
                    ticket=ticket,
                    snapshot=_current(ticket),
                )
                row.action = "unchanged" if _current(ticket) == row.values else "update"
                continue
            row.action = "create"
        elif row.record.content_hash == row.digest or _current(row.record.ticket) == row.values:
            # The source did not change, or the request already is what the row says
            # (our own export of it coming back): nothing to write.
            row.action = "unchanged"
        else:
            row.action = "update"


def import_csv(
    data: bytes,
    organisation: Organisation,
    *,
    skip_bad_rows: bool = False,
    dry_run: bool = False,
    now: datetime | None = None,
) -> CsvOutcome:
    """Validate, plan and (unless ``dry_run`` or a bad row without ``skip_bad_rows``) write.

    Raises ``CsvFileError`` if the file as a whole is unreadable.
    """
    now = now or timezone.now()
    _columns, rows, warnings = read_csv(data)
    good, bad = validate(rows, organisation, now=now)
    outcome = CsvOutcome(rows=len(rows), bad=bad, warnings=warnings, skipped=len(bad))
    _plan(good, organisation)
    for row in good:
        setattr(outcome, _past(row.action), getattr(outcome, _past(row.action)) + 1)
    if dry_run or (bad and not skip_bad_rows):
        return outcome
    with transaction.atomic(), translation.override(organisation.language):
        importer = _write.importer_account()
        for row in good:
            if row.action == "create":
                outcome.tickets.append(_create(row, organisation, importer, now).number)
            elif row.action == "update":
                outcome.tickets.append(_update(row, now).number)
    outcome.written = True
    return outcome


def _past(action: str) -> str:
    return {"create": "created", "update": "updated"}.get(action, action)


def _create(row: Row, organisation: Organisation, importer: User, now: datetime) -> Ticket:
    when = row.created_at or now
    ticket, _message = _write.create_ticket(
        organisation=organisation,
        values=row.values,
        reporter=row.reporter,
        created_by=importer,
        channel=row.channel,
        created_at=when,
        updated_at=when,
        status_changed_at=when,
        assignee=row.assignee,
    )
    _write.record_event(
        ticket,
        None,
        "imports.csv.row_imported",
        new=ticket.number,
        note=_("CSV line %(line)d") % {"line": row.line},
        internal=True,
        at=when,
    )
    if row.key:
        ImportedRecord.objects.create(
            organisation=organisation,
            source=SOURCE,
            kind=ImportedRecord.Kind.ROW,
            external_id=row.key[:255],
            ticket=ticket,
            content_hash=row.digest,
            snapshot=row.values,
            created_at=now,
            updated_at=now,
        )
    _write.start_clocks(ticket, now=now, answered=False)
    return ticket


def _update(row: Row, now: datetime) -> Ticket:
    record = row.record
    ticket = Ticket.objects.select_for_update().get(pk=record.ticket_id)
    first = ticket.messages.order_by("created_at", "pk").values_list("pk", flat=True).first()
    _write.merge_changes(
        ticket,
        before=record.snapshot,
        after=row.values,
        first_message_id=first,
        users={row.assignee.pk: row.assignee} if row.assignee else {},
        now=now,
        action_prefix="imports.csv.row",
        note=_("Changed by a CSV import"),
    )
    record.snapshot = row.values
    record.content_hash = row.digest
    record.updated_at = now
    if record.pk is None:  # an exported request met again (see ``_plan``)
        record.created_at = now
        record.save()
    else:
        record.save(update_fields=["snapshot", "content_hash", "updated_at"])
    return ticket
