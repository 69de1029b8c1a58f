import pytest
from django.urls import reverse

from aftercare.desk.models import Priority
from aftercare.desk.tests.factories import ticket_for
from aftercare.sla.models import SlaClock, SlaPlan, SlaTarget

pytestmark = pytest.mark.django_db


def test_an_administrator_changes_a_target_and_open_requests_follow(admin_client, owner, org):
    ticket = ticket_for(owner, org, priority=Priority.NORMAL)
    plan = SlaPlan.objects.get(is_default=True)
    targets = list(SlaTarget.objects.filter(plan=plan).order_by("priority"))
    data = {
        "name": plan.name,
        "first_response": plan.first_response,
        "warn_percent": 75,
        "escalate_to_l2": "on",
        "is_default": "on",
        "pause_statuses": '["waiting"]',
        "stop_statuses": '["done", "released"]',
        "targets-TOTAL_FORMS": len(targets),
        "targets-INITIAL_FORMS": len(targets),
        "targets-MIN_NUM_FORMS": 0,
        "targets-MAX_NUM_FORMS": 1000,
    }
    for i, t in enumerate(targets):
        data.update(
            {
                f"targets-{i}-id": t.pk,
                f"targets-{i}-plan": plan.pk,
                f"targets-{i}-priority": t.priority,
                f"targets-{i}-category": t.category,
                f"targets-{i}-first_response_minutes": 15
                if t.priority == Priority.NORMAL
                else t.first_response_minutes,
                f"targets-{i}-resolution_minutes": t.resolution_minutes,
                f"targets-{i}-around_the_clock": "on" if t.around_the_clock else "",
            }
        )
    response = admin_client.post(reverse("admin:sla_slaplan_change", args=[plan.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    clock = SlaClock.objects.get(ticket=ticket, metric="first_response")
    assert clock.target_minutes == 15


def test_calendars_are_listed(admin_client):
    assert admin_client.get(reverse("admin:sla_calendar_changelist")).status_code == 200
