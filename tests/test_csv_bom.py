"""CSV downloads open in Excel with diacritics and Cyrillic intact (UTF-8 with a BOM)."""

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from aftercare.desk.models import Priority
from aftercare.desk.tests.factories import ticket_for

pytestmark = pytest.mark.django_db
BUC = ZoneInfo("Europe/Bucharest")
ROMANIAN = "Ștefan și Fiii SRL — Țară"
CYRILLIC = "Бета Логістика — Київ"


@pytest.fixture
def overdue(org, other_org, owner, outsider):
    org.name, other_org.name = ROMANIAN, CYRILLIC
    org.save(update_fields=["name"])
    other_org.save(update_fields=["name"])
    with time_machine.travel(datetime(2026, 11, 9, 10, tzinfo=BUC), tick=False):
        ticket_for(owner, org, priority=Priority.CRITICAL)
        ticket_for(outsider, other_org, priority=Priority.CRITICAL)


def _export(client, **extra):
    with time_machine.travel(datetime(2026, 11, 25, 12, tzinfo=BUC), tick=False):
        return client.get(
            reverse("console:reports"),
            {"from": "2026-11", "to": "2026-11", "format": "csv", **extra},
        )


def test_the_report_download_starts_with_a_bom_and_round_trips(overdue, client_for, manager):
    response = _export(client_for(manager))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf")
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeffmetric,")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][0] == "metric"
    labels = {row[2] for row in rows if row[1] == "organisation"}
    assert {ROMANIAN, CYRILLIC} <= labels


def test_scripts_can_ask_for_no_bom(overdue, client_for, manager):
    response = _export(client_for(manager), bom="0")
    assert response.content.startswith(b"metric,")
    assert ROMANIAN.encode() in response.content


def test_the_portal_download_has_the_bom_too(overdue, client_for, coordinator):
    with time_machine.travel(datetime(2026, 11, 25, 12, tzinfo=BUC), tick=False):
        response = client_for(coordinator).get(
            reverse("portal:reports"), {"from": "2026-11", "to": "2026-11", "format": "csv"}
        )
    assert response.status_code == 200
    assert response.content.startswith(b"\xef\xbb\xbf")
    text = response.content.decode("utf-8-sig")
    assert ROMANIAN in text and CYRILLIC not in text


def test_the_ticket_export_for_excel_has_a_bom_and_imports_back(org, owner):
    from django.core.management import call_command

    from aftercare.imports.csvio import _decode

    ticket_for(owner, org, subject="Factură în lei — Счёт")
    out = io.StringIO()
    call_command("export_csv", "--excel", stdout=out, stderr=io.StringIO())
    text = out.getvalue()
    assert text.startswith("\ufeffnumber;")
    assert "Factură în lei — Счёт" in _decode(text.encode("utf-8"))
