"""Every page as every role: operator, consultant, developer, restricted agent,
customer of another organisation, customer user and coordinator of the same one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from aftercare.availability.models import Downtime
from aftercare.desk.models import Category
from aftercare.desk.tests.factories import ticket_for
from aftercare.documents.testing import pdf_text
from aftercare.lifecycle.tests.factories import landscape
from aftercare.tenancy.models import AgentRestriction, Contract


@pytest.fixture
def land(org):
    data = landscape(org)
    contract = data["contract"]
    contract.support_hours = Contract.SupportHours.ALWAYS
    contract.availability_target = Decimal("99.90")
    contract.save()
    return data


@pytest.fixture
def prod(land):
    return land["production"]


@pytest.fixture
def downtime(prod):
    start = timezone.now() - timedelta(hours=5)
    return Downtime.objects.create(
        environment=prod,
        started_at=start,
        ended_at=start + timedelta(hours=2),
        cause="Alpha storage array failed",
    )


@pytest.fixture
def beta_downtime(other_org):
    beta = landscape(other_org)
    start = timezone.now() - timedelta(hours=5)
    return Downtime.objects.create(
        environment=beta["production"],
        started_at=start,
        ended_at=start + timedelta(hours=1),
        cause="Beta secret outage",
    )


def staff_pages(org, prod, downtime):
    return [
        reverse("availability:overview"),
        reverse("availability:organisation", args=[org.code]),
        reverse("availability:environment", args=[prod.pk]),
        reverse("availability:downtime", args=[downtime.pk]),
    ]


@pytest.mark.parametrize("role", ["operator", "consultant", "developer", "manager"])
def test_staff_see_every_page(request, role, org, prod, downtime, client_for):
    client = client_for(request.getfixturevalue(role))
    for path in staff_pages(org, prod, downtime):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "Alpha" in response.content.decode()
    page = client.get(reverse("availability:organisation", args=[org.code])).content.decode()
    assert "<svg" in page and "Alpha storage array failed" in page and "99.90" in page
    pdf = client.get(reverse("availability:organisation-pdf", args=[org.code]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"


def test_only_recorders_get_the_form(org, prod, downtime, client_for, developer, operator):
    path = reverse("availability:environment", args=[prod.pk])
    assert b'id="downtime-form"' in client_for(operator).get(path).content
    assert b'id="downtime-form"' not in client_for(developer).get(path).content
    response = client_for(developer).post(
        path, {"started_at": "2026-01-01T10:00", "cause": "x", "planned": "no"}
    )
    assert response.status_code == 403
    edit = reverse("availability:downtime", args=[downtime.pk])
    assert client_for(developer).post(edit, {"cause": "changed"}).status_code == 403
    downtime.refresh_from_db()
    assert downtime.cause == "Alpha storage array failed"


@pytest.mark.parametrize("role", ["operator", "consultant", "manager"])
def test_restricted_agent_gets_404_for_another_organisation(
    request, role, org, other_org, beta_downtime, client_for
):
    agent = request.getfixturevalue(role)
    AgentRestriction.objects.create(user=agent, organisation=org)
    client = client_for(agent)
    env = beta_downtime.environment
    for path in (
        reverse("availability:organisation", args=[other_org.code]),
        reverse("availability:organisation-pdf", args=[other_org.code]),
        reverse("availability:environment", args=[env.pk]),
        reverse("availability:downtime", args=[beta_downtime.pk]),
    ):
        assert client.get(path).status_code == 404, path
        assert client.post(path, {"cause": "x", "action": "end"}).status_code == 404, path
    overview = client.get(reverse("availability:overview")).content.decode()
    assert other_org.name not in overview
    beta_downtime.refresh_from_db()
    assert beta_downtime.cause == "Beta secret outage"


@pytest.mark.parametrize("role", ["owner", "coordinator", "outsider"])
def test_customers_never_open_staff_pages(request, role, org, prod, downtime, client_for):
    client = client_for(request.getfixturevalue(role))
    for path in [
        *staff_pages(org, prod, downtime),
        reverse("availability:organisation-pdf", args=[org.code]),
    ]:
        assert client.get(path).status_code == 403, path


def test_coordinator_sees_own_organisation_in_portal(org, prod, downtime, coordinator, client_for):
    incident = ticket_for(coordinator, org, subject="Alpha is down", category=Category.INCIDENT)
    downtime.incidents.add(incident)
    client = client_for(coordinator)
    index = client.get(reverse("availability_portal:index"))
    assert index.status_code == 302
    page = client.get(index["Location"])
    assert page.status_code == 200
    body = page.content.decode()
    assert "Alpha storage array failed" in body and "<svg" in body and incident.number in body
    pdf = client.get(reverse("availability_portal:pdf", args=[org.code]))
    assert pdf.status_code == 200
    assert "Alpha storage array failed" in " ".join(pdf_text(pdf.content).split())


def test_customer_user_who_is_not_coordinator_is_refused(org, owner, downtime, client_for):
    client = client_for(owner)
    assert client.get(reverse("availability_portal:index")).status_code == 403
    for name in ("availability_portal:organisation", "availability_portal:pdf"):
        assert client.get(reverse(name, args=[org.code])).status_code == 403


def test_customer_of_another_organisation_gets_404(org, outsider, downtime, client_for):
    client = client_for(outsider)
    for name in ("availability_portal:organisation", "availability_portal:pdf"):
        response = client.get(reverse(name, args=[org.code]))
        assert response.status_code == 404
        assert b"Alpha storage" not in response.content
    # Their own index leads to their own organisation only.
    index = client.get(reverse("availability_portal:index"))
    assert org.code not in index.get("Location", "")


def test_agent_opening_the_portal_page_goes_to_the_console(org, operator, client_for):
    response = client_for(operator).get(
        reverse("availability_portal:organisation", args=[org.code])
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("availability:organisation", args=[org.code])


def test_record_edit_and_end_by_hand(org, prod, consultant, owner, client_for):
    incident = ticket_for(owner, org, subject="ERP down", category=Category.INCIDENT)
    client = client_for(consultant)
    path = reverse("availability:environment", args=[prod.pk])
    page = client.get(path).content.decode()
    assert incident.number in page  # offered to link
    start = (timezone.localtime(timezone.now(), org.zone) - timedelta(hours=3)).strftime(
        "%Y-%m-%dT%H:%M"
    )
    response = client.post(
        path,
        {
            "started_at": start,
            "cause": "Network switch",
            "planned": "auto",
            "incidents": [incident.pk],
        },
    )
    assert response.status_code == 302
    row = Downtime.objects.get(cause="Network switch")
    assert row.ended_at is None and row.source == "manual" and row.created_by == consultant
    assert list(row.incidents.all()) == [incident]
    assert row.planned is False
    # Ending it: before the start is refused with the reason, and nothing changes.
    edit = reverse("availability:downtime", args=[row.pk])
    before = (timezone.localtime(row.started_at, org.zone) - timedelta(hours=1)).strftime(
        "%Y-%m-%dT%H:%M"
    )
    response = client.post(edit, {"action": "end", "ended_at": before})
    assert response.status_code == 400
    assert "after the start" in response.content.decode()
    row.refresh_from_db()
    assert row.ended_at is None
    end = (timezone.localtime(row.started_at, org.zone) + timedelta(hours=1)).strftime(
        "%Y-%m-%dT%H:%M"
    )
    assert client.post(edit, {"action": "end", "ended_at": end}).status_code == 302
    row.refresh_from_db()
    assert row.ended_at == row.started_at.replace(second=0, microsecond=0) + timedelta(hours=1)
    # Correcting it.
    response = client.post(
        edit,
        {
            "action": "save",
            "started_at": start,
            "ended_at": end,
            "cause": "Core switch",
            "planned": "yes",
        },
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.cause == "Core switch" and row.planned is True


def test_bad_input_is_refused_with_reasons_and_keeps_the_text(
    org, prod, downtime, consultant, client_for
):
    client = client_for(consultant)
    path = reverse("availability:environment", args=[prod.pk])
    start = timezone.localtime(downtime.started_at, org.zone) + timedelta(minutes=30)
    response = client.post(
        path,
        {
            "started_at": start.strftime("%Y-%m-%dT%H:%M"),
            "cause": "Overlapping thing",
            "planned": "no",
        },
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "overlaps the downtime" in body and "Overlapping thing" in body
    response = client.post(path, {"started_at": "not a date", "cause": "", "planned": "no"})
    assert response.status_code == 400
    assert Downtime.objects.count() == 1


def test_cannot_link_another_organisations_request(
    org, prod, consultant, outsider, other_org, client_for
):
    foreign = ticket_for(outsider, other_org, subject="Beta thing", category=Category.INCIDENT)
    response = client_for(consultant).post(
        reverse("availability:environment", args=[prod.pk]),
        {
            "started_at": "2026-01-05T10:00",
            "ended_at": "2026-01-05T11:00",
            "cause": "x",
            "planned": "no",
            "incidents": [foreign.pk],
        },
    )
    assert response.status_code == 400
    assert not Downtime.objects.exists()


def test_month_picker_and_bad_month(org, prod, operator, client_for):
    client = client_for(operator)
    path = reverse("availability:organisation", args=[org.code])
    assert client.get(path, {"month": "2026-03"}).status_code == 200
    assert client.get(path, {"month": "garbage"}).status_code == 200
    assert client.get(path, {"month": "0001-01"}).status_code == 200


def test_pdf_is_in_the_customers_language(org, prod, operator, client_for):
    org.language = "ro"
    org.save()
    start = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
    Downtime.objects.create(
        environment=prod, started_at=start, ended_at=start + timedelta(hours=1), cause="Întreținere"
    )
    response = client_for(operator).get(
        reverse("availability:organisation-pdf", args=[org.code]), {"month": "2026-03"}
    )
    assert response.status_code == 200
    assert 'filename="availability-alpha-2026-03.pdf"' in response["Content-Disposition"]
    text = pdf_text(response.content)
    assert "Întreținere" in text
    assert "martie 2026" in text.lower()
    # 24x7 March 2026 in Bucharest: 743 h; 1 h down -> 99.865 % (Romanian decimal comma).
    assert "743:00" in text and "99,865" in text, text


def test_lifecycle_environment_page_links_here(prod, operator, client_for):
    page = client_for(operator).get(reverse("lifecycle:environment", args=[prod.pk]))
    assert reverse("availability:environment", args=[prod.pk]).encode() in page.content


def test_navigation_links(operator, coordinator, owner, client_for):
    queue = client_for(operator).get(reverse("console:queue")).content.decode()
    assert reverse("availability:overview") in queue
    portal = client_for(coordinator).get(reverse("portal:list")).content.decode()
    assert reverse("availability_portal:index") in portal
    assert (
        reverse("availability_portal:index")
        not in client_for(owner).get(reverse("portal:list")).content.decode()
    )


def test_report_query_count_does_not_grow_per_downtime(org, prod, owner, operator, client_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(operator)
    path = reverse("availability:organisation", args=[org.code])

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(path, {"month": "2026-01"}).status_code == 200
        return len(ctx.captured_queries)

    def add(day: int) -> None:
        start = datetime(2026, 1, day, tzinfo=UTC)
        row = Downtime.objects.create(
            environment=prod, started_at=start, ended_at=start + timedelta(hours=1)
        )
        row.incidents.add(ticket_for(owner, org, subject=f"Down {day}"))

    add(1)
    count()  # warm the caches (SLA calendar, session)
    few = count()
    for day in range(2, 12):
        add(day)
    assert count() == few


def test_contract_target_is_edited_in_the_administration(org, land, client_for):
    from aftercare.tenancy.tests.factories import staff

    admin = staff("admin", username="target-admin")
    admin.is_staff = True
    admin.is_superuser = True
    admin.save()
    contract = land["contract"]
    page = client_for(admin).get(reverse("admin:tenancy_contract_change", args=[contract.pk]))
    assert page.status_code == 200
    assert b'name="availability_target"' in page.content


def test_contract_target_must_be_a_percent(land):
    from django.core.exceptions import ValidationError

    contract = land["contract"]
    contract.availability_target = Decimal("100.01")
    with pytest.raises(ValidationError):
        contract.full_clean()
    contract.availability_target = Decimal("99.95")
    contract.full_clean()
