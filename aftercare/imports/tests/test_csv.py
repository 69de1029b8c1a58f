from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from aftercare.desk.models import Category, Event, Priority, Status, Ticket
from aftercare.desk.tests.factories import ticket_for
from aftercare.imports.csvio import (
    EXPORT_COLUMNS,
    import_csv,
    safe_cell,
    sniff_delimiter,
    unsafe_cell,
    write_tickets,
)
from aftercare.imports.models import ImportedRecord
from aftercare.sla.models import SlaClock
from aftercare.tenancy.tests.factories import customer

pytestmark = pytest.mark.django_db

HEADER = "external_id,subject,description,status,category,priority,reporter,assignee,created_at\n"


def export(queryset) -> list[dict[str, str]]:
    out = StringIO()
    write_tickets(queryset, out)
    return list(csv.DictReader(StringIO(out.getvalue())))


@pytest.mark.parametrize(
    "text",
    ["=1+1", "+SUM(A1)", "-2", "@cmd", "\tTab", "\rCR", "'=already quoted", "''@two", "plain", ""],
)
def test_cells_that_could_start_a_formula_are_quoted_and_come_back_unchanged(text):
    cell = safe_cell(text)
    assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r")
    assert unsafe_cell(cell) == text


def test_export_writes_the_documented_columns(owner, org, operator):
    t = ticket_for(owner, org, subject="Posting fails", priority=Priority.HIGH)
    t.assignee = operator
    t.save()
    rows = export(Ticket.objects.all())
    assert list(rows[0]) == EXPORT_COLUMNS
    row = rows[0]
    assert row["number"] == t.number
    assert row["organisation"] == "alpha"
    assert (row["status"], row["category"], row["priority"]) == ("backlog", "incident", "high")
    assert row["reporter"] == owner.email
    assert row["assignee"] == operator.email
    assert datetime.fromisoformat(row["created_at"]) == t.created_at.replace(microsecond=0)


def test_export_takes_one_query_however_many_rows(owner, org):
    for _ in range(3):
        ticket_for(owner, org)
    with CaptureQueriesContext(connection) as few:
        export(Ticket.objects.all())
    for _ in range(5):
        ticket_for(owner, org)
    with CaptureQueriesContext(connection) as many:
        assert len(export(Ticket.objects.all())) == 8
    assert len(few) == len(many) == 1


def test_formula_injection_round_trip(owner, org, other_org):
    nasty = {
        "subject": '=HYPERLINK("http://evil.example","click")',
        "description": "+cmd|' /C calc'!A0\n-second line",
    }
    ticket_for(owner, org, **nasty)
    out = StringIO()
    write_tickets(Ticket.objects.filter(organisation=org), out)
    text = out.getvalue()
    cells = next(csv.DictReader(StringIO(text)))
    assert cells["subject"].startswith("'=") and cells["description"].startswith("'+")

    # Importing the export elsewhere gives back exactly the original text.
    customer(other_org, username="owner2", email=owner.email.replace("@", "+b@"))
    data = text.replace(owner.email, owner.email.replace("@", "+b@")).encode()
    outcome = import_csv(data, other_org)
    assert outcome.created == 1 and not outcome.bad
    copy = Ticket.objects.get(organisation=other_org)
    assert copy.subject == nasty["subject"]
    assert copy.description == nasty["description"]


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_imported(owner, org, operator):
    future = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%d")
    data = (
        HEADER
        + f"r1,Fine,Body,backlog,incident,high,{owner.email},,2024-01-15\n"
        + f'r2,Multi-line,"one\ntwo",done,problem,low,{owner.email},,\n'
        + f"r3,,Body,finito,incident,normal,{owner.email},,\n"
        + "r4,Who,Body,backlog,bugs,urgentest,ghost@example.test,,15/01/2024\n"
        + f"r1,Again,Body,backlog,incident,normal,{owner.email},{owner.email},{future}\n"
        + f"r6,Also fine,Body,Waiting for customer,Consultation,Low,{owner.username},{operator.username},15.01.2024 10:30\n"
    ).encode()
    outcome = import_csv(data, org)
    bad = {b.line: b.reasons for b in outcome.bad}
    assert sorted(bad) == [5, 6, 7]  # line 3-4 is one row with a two-line description
    assert bad[5] == [
        "the subject is missing",
        "unknown status “finito” (use one of: backlog, sprint, in_progress, waiting, done, "
        "released, archived, rejected)",
    ]
    assert any("unknown category “bugs”" in r for r in bad[6])
    assert any("unknown priority “urgentest”" in r for r in bad[6])
    assert any("unknown reporter “ghost@example.test”" in r for r in bad[6])
    assert any("bad date “15/01/2024”" in r for r in bad[6])
    assert any("is not on the service desk staff" in r for r in bad[7])
    assert any("is in the future" in r for r in bad[7])
    assert any("appears again (first on line 2)" in r for r in bad[7])
    assert (outcome.created, outcome.written) == (3, False)
    assert not Ticket.objects.exists()

    kept = import_csv(data, org, skip_bad_rows=True)
    assert kept.written and kept.created == 3
    assert Ticket.objects.count() == 3
    fine = Ticket.objects.get(subject="Fine")
    assert fine.priority == Priority.HIGH
    assert fine.created_at == datetime(2024, 1, 14, 22, 0, tzinfo=UTC)  # midnight in Bucharest
    also = Ticket.objects.get(subject="Also fine")
    assert (also.status, also.category, also.priority, also.assignee) == (
        Status.WAITING,
        Category.CONSULTATION,
        Priority.LOW,
        operator,
    )
    assert Ticket.objects.get(subject="Multi-line").description == "one\ntwo"
    assert Event.objects.filter(action="imports.csv.row_imported").count() == 3


def test_the_command_lists_bad_rows_and_fails(owner, org, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(
        HEADER
        + "a,,Body,backlog,incident,normal,nobody,,\n"
        + f"b,Good,Body,backlog,incident,normal,{owner.email},,\n",
        encoding="utf-8",
    )
    err = StringIO()
    with pytest.raises(CommandError, match="1 bad row"):
        call_command(
            "import_csv", str(path), "--organisation", "alpha", stdout=StringIO(), stderr=err
        )
    assert "line 2: the subject is missing; unknown reporter “nobody”" in err.getvalue()
    assert not Ticket.objects.exists()

    out = StringIO()
    call_command(
        "import_csv",
        str(path),
        "--organisation",
        "alpha",
        "--skip-bad-rows",
        stdout=out,
        stderr=StringIO(),
    )
    assert "1 new" in out.getvalue() and "1 bad row(s) skipped" in out.getvalue()
    assert Ticket.objects.get().subject == "Good"


def test_excel_semicolons_and_byte_order_mark(owner, org):
    text = (
        "External ID;Subject;Description;Status;Category;Priority;Reporter\n"
        f"x1;Rechnung;Text mit, Komma;В работе;incident;2;{owner.email}\n"
    )
    assert sniff_delimiter(text) == ";"
    outcome = import_csv(b"\xef\xbb\xbf" + text.encode(), org)
    assert outcome.created == 1 and not outcome.bad
    t = Ticket.objects.get()
    assert (t.subject, t.description, t.priority) == ("Rechnung", "Text mit, Komma", 2)


def test_a_file_that_is_not_utf8_is_refused_clearly(owner, org):
    from aftercare.imports.csvio import CsvFileError

    data = (HEADER + f"a,Caf\xe9,x,,,,{owner.email},,\n").encode("latin-1")
    with pytest.raises(CsvFileError, match="line 2 is not UTF-8"):
        import_csv(data, org)


def test_rows_with_an_external_id_are_imported_once_and_updated_when_changed(owner, org, operator):
    row = f"ext-1,Printing,Body,in_progress,incident,normal,{owner.email},,2024-02-01 10:00\n"
    first = import_csv((HEADER + row).encode(), org)
    assert first.created == 1
    t = Ticket.objects.get()
    assert SlaClock.objects.filter(ticket=t).count() == 2  # open: clocks from the import
    again = import_csv((HEADER + row).encode(), org)
    assert (again.created, again.unchanged) == (0, 1)
    assert Ticket.objects.count() == 1

    changed = row.replace("Printing", "Printing to PDF").replace("in_progress", "done")
    third = import_csv((HEADER + changed).encode(), org)
    assert third.updated == 1
    t.refresh_from_db()
    assert (t.subject, t.status) == ("Printing to PDF", Status.DONE)
    assert Event.objects.filter(ticket=t, action="desk.ticket.updated", field="subject").exists()
    assert ImportedRecord.objects.get(kind="row", external_id="ext-1").ticket == t


def test_dry_run_counts_and_writes_nothing(owner, org, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(HEADER + f"a,One,Body,,,,{owner.email},,\n", encoding="utf-8")
    out = StringIO()
    call_command(
        "import_csv",
        str(path),
        "--organisation",
        "alpha",
        "--dry-run",
        stdout=out,
        stderr=StringIO(),
    )
    assert "1 new" in out.getvalue() and "Dry run" in out.getvalue()
    assert not Ticket.objects.exists() and not ImportedRecord.objects.exists()


def test_export_command_filters_and_writes_excel_csv(owner, org, other_org, operator):
    ticket_for(owner, org, subject="Kept")
    done = ticket_for(owner, org, subject="Done one")
    Ticket.objects.filter(pk=done.pk).update(status=Status.DONE)
    outsider = customer(other_org, username="someone")
    ticket_for(outsider, other_org, subject="Other customer")

    out = StringIO()
    call_command(
        "export_csv",
        "--organisation",
        "alpha",
        "--status",
        "backlog,sprint",
        stdout=out,
        stderr=StringIO(),
    )
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["subject"] for r in rows] == ["Kept"]

    excel = StringIO()
    call_command("export_csv", "--excel", stdout=excel, stderr=StringIO())
    assert excel.getvalue().startswith("\ufeffnumber;external_id;")
    assert len(excel.getvalue().strip().splitlines()) == 4

    with pytest.raises(CommandError, match="Unknown status"):
        call_command("export_csv", "--status", "open", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="No organisation"):
        call_command("export_csv", "--organisation", "zzz", stdout=StringIO(), stderr=StringIO())


# -- our own export, imported back -------------------------------------------------------


def _exported(queryset) -> bytes:
    out = StringIO()
    write_tickets(queryset, out)
    return out.getvalue().encode()


def test_exporting_and_importing_into_the_same_organisation_creates_nothing(owner, org, operator):
    ticket_for(owner, org, subject="Posting fails")
    ticket_for(owner, org, subject="=Formula in the subject", priority=Priority.HIGH)
    imported = import_csv(
        (HEADER + f"ext-7,Printing,Body,in_progress,incident,normal,{owner.email},,\n").encode(),
        org,
    )
    assert imported.created == 1
    before = set(Ticket.objects.values_list("number", flat=True))
    data = _exported(Ticket.objects.filter(organisation=org))

    first = import_csv(data, org)
    assert not first.bad
    assert (first.created, first.updated, first.unchanged) == (0, 0, 3)
    assert set(Ticket.objects.values_list("number", flat=True)) == before
    second = import_csv(data, org)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 3)
    assert Ticket.objects.count() == 3


def test_an_edited_export_updates_the_request_it_names_and_then_is_stable(owner, org, operator):
    ticket = ticket_for(owner, org, subject="Posting fails")
    events = Event.objects.filter(ticket=ticket).count()
    data = _exported(Ticket.objects.filter(organisation=org)).decode()
    data = data.replace("Posting fails", "Posting fails for credit notes").replace(
        ",backlog,", ",sprint,"
    )
    changed = import_csv(data.encode(), org)
    assert (changed.created, changed.updated) == (0, 1)
    ticket.refresh_from_db()
    assert (ticket.subject, ticket.status) == ("Posting fails for credit notes", Status.SPRINT)
    assert Event.objects.filter(ticket=ticket).count() > events
    record = ImportedRecord.objects.get(organisation=org, kind="row")
    assert (record.ticket, record.external_id) == (ticket, ticket.number)
    again = import_csv(data.encode(), org)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    assert Ticket.objects.count() == 1


def test_a_dry_run_of_our_own_export_says_unchanged_and_writes_nothing(owner, org):
    ticket_for(owner, org)
    outcome = import_csv(_exported(Ticket.objects.all()), org, dry_run=True)
    assert (outcome.created, outcome.unchanged, outcome.written) == (0, 1, False)
    assert not ImportedRecord.objects.exists()


def test_another_organisations_export_never_touches_its_requests(owner, org, other_org, outsider):
    """Beta's export imported into Alpha (with Alpha's people) creates Alpha copies; Beta's
    requests, whose numbers the file carries, stay exactly as they were."""
    beta = ticket_for(outsider, other_org, subject="Beta ledger")
    data = _exported(Ticket.objects.filter(organisation=other_org)).decode()
    data = data.replace(outsider.email, owner.email).replace("Beta ledger", "Alpha ledger")
    outcome = import_csv(data.encode(), org)
    assert (outcome.created, outcome.updated) == (1, 0)
    beta.refresh_from_db()
    assert beta.subject == "Beta ledger"
    assert Ticket.objects.filter(organisation=other_org).count() == 1
    copy = Ticket.objects.get(organisation=org)
    assert copy.number != beta.number and copy.subject == "Alpha ledger"
    # The second run matches the copy (by the remembered row), still never Beta's.
    again = import_csv(data.encode(), org)
    assert (again.created, again.unchanged) == (0, 1)
    assert not ImportedRecord.objects.filter(organisation=other_org).exists()
    assert Ticket.objects.count() == 2
