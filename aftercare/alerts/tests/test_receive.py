"""Alerts into incidents through the three endpoints, as the senders post them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from aftercare.alerts.models import AlertIncident, AlertPayload
from aftercare.alerts.tests import payloads
from aftercare.desk.models import Category, Channel, Event, Priority, Status, Ticket, TicketLink
from aftercare.lifecycle.models import MaintenanceWindow

pytestmark = pytest.mark.django_db


def _notes(ticket: Ticket, action: str) -> list[Event]:
    return list(Event.objects.filter(ticket=ticket, action=action).order_by("pk"))


def test_an_alertmanager_batch_opens_one_incident_per_alert(bound, post, coordinator, land):
    _integration, token = bound
    body = payloads.alertmanager(
        payloads.am_alert("fp-db"),
        payloads.am_alert("fp-disk", severity="warning", alertname="DiskFilling"),
    )
    response = post("alertmanager", body, token)
    assert response.status_code == 200, response.content
    results = response.json()["alerts"]
    assert [r["result"] for r in results] == ["opened", "opened"]
    db = Ticket.objects.get(number=results[0]["ticket"])
    assert (db.category, db.priority, db.channel) == (
        Category.INCIDENT,
        Priority.CRITICAL,
        Channel.API,
    )
    assert (db.organisation, db.system, db.reporter) == (
        land["production"].organisation,
        land["system"],
        coordinator,
    )
    assert "ERP database does not answer" in db.subject
    note = _notes(db, "alerts.alert.opened")[0]
    assert note.is_internal and note.actor is None
    assert "instance = db1.alpha.example:9187" in note.display_note
    assert "https://runbooks.example/erp-db" in note.display_note
    disk = Ticket.objects.get(number=results[1]["ticket"])
    assert disk.priority == Priority.NORMAL
    incident = AlertIncident.objects.get(fingerprint="fp-db")
    assert (incident.environment, incident.ticket, incident.count) == (land["production"], db, 1)
    payload = AlertPayload.objects.get()
    assert (payload.outcome, payload.alerts, payload.format) == ("accepted", 2, "alertmanager")
    assert '"fp-db"' in payload.body


def test_a_zabbix_problem_and_its_recovery(bound, post, land):
    integration, token = bound
    opened = post("zabbix", payloads.zabbix("1", "Disaster"), token).json()["alerts"][0]
    ticket = Ticket.objects.get(number=opened["ticket"])
    assert ticket.priority == Priority.CRITICAL
    assert "erp-app-01" in ticket.subject
    incident = AlertIncident.objects.get()
    assert incident.fingerprint == "zabbix:23001:erp-app-01"
    # A problem update (acknowledgement) changes nothing.
    update = post("zabbix", payloads.zabbix("1", **{"EVENT.UPDATE.STATUS": "1"}), token)
    assert update.json()["alerts"][0]["result"] == "ignored"
    resolved = post("zabbix", payloads.zabbix("0"), token).json()["alerts"][0]
    assert resolved == {
        "fingerprint": incident.fingerprint,
        "result": "resolved",
        "ticket": ticket.number,
    }
    ticket.refresh_from_db()
    assert ticket.status == Status.BACKLOG  # the integration does not close requests
    assert _notes(ticket, "alerts.alert.resolved")
    incident.refresh_from_db()
    assert incident.state == "resolved" and incident.resolved_at is not None


def test_zabbix_snake_case_keys_and_numeric_severity(unbound, post, land):
    _integration, token = unbound
    body = {
        "event_id": "77",
        "event_value": "1",
        "event_nseverity": "4",
        "trigger_name": "Queue backlog",
        "host_name": "erp-app-02",
        "environment": "Test",
        "event_timestamp": "1772438400",
    }
    result = post("zabbix", body, token).json()["alerts"][0]
    ticket = Ticket.objects.get(number=result["ticket"])
    assert ticket.priority == Priority.HIGH
    assert AlertIncident.objects.get().environment == land["test"]


def test_generic_names_the_environment_by_name_or_id(unbound, post, land):
    _integration, token = unbound
    by_name = post("generic", payloads.generic(environment="training"), token)
    assert by_name.status_code == 200
    by_id = post(
        "generic", payloads.generic(fingerprint="other", environment=land["test"].pk), token
    )
    assert by_id.status_code == 200
    envs = dict(AlertIncident.objects.values_list("fingerprint", "environment"))
    assert envs == {"erp-login": land["training"].pk, "other": land["test"].pk}


def test_generic_without_an_environment_on_an_unbound_token_is_refused_and_kept(unbound, post):
    _integration, token = unbound
    response = post("generic", payloads.generic(), token)
    assert response.status_code == 422
    assert "environment" in response.json()["message"]
    payload = AlertPayload.objects.get()
    assert payload.outcome == "rejected" and "erp-login" in payload.body
    assert not Ticket.objects.exists()


def test_the_same_fingerprint_adds_to_its_open_incident(bound, post, settings):
    _integration, token = bound
    for _ in range(5):
        assert post("generic", payloads.generic(), token).status_code == 200
    ticket = Ticket.objects.get()
    incident = AlertIncident.objects.get()
    assert (incident.ticket, incident.count) == (ticket, 5)
    # A storm writes no note per firing: none before AFTERCARE_ALERTS_NOTE_MINUTES passed.
    assert not _notes(ticket, "alerts.alert.repeated")
    settings.AFTERCARE_ALERTS_NOTE_MINUTES = 0
    post("generic", payloads.generic(), token)
    assert len(_notes(ticket, "alerts.alert.repeated")) == 1
    assert Ticket.objects.count() == 1


def test_a_storm_is_noted_once_per_interval(bound, post, time_machine):
    _integration, token = bound
    time_machine.move_to(timezone.now())
    post("generic", payloads.generic(), token)
    ticket = Ticket.objects.get()
    for _ in range(3):
        post("generic", payloads.generic(), token)
    time_machine.shift(timedelta(minutes=16))
    for _ in range(3):
        post("generic", payloads.generic(), token)
    assert len(_notes(ticket, "alerts.alert.repeated")) == 1
    assert AlertIncident.objects.get().count == 7


def test_resolved_moves_to_done_only_with_the_flag(bound, post):
    integration, token = bound
    integration.resolve_moves_to_done = True
    integration.save()
    post("generic", payloads.generic(), token)
    ticket = Ticket.objects.get()
    assert ticket.sla_clocks.filter(state="running").exists()
    post("generic", payloads.generic(status="resolved", ends_at="2026-03-02T08:30:00Z"), token)
    ticket.refresh_from_db()
    assert ticket.status == Status.DONE
    assert not ticket.sla_clocks.filter(state="running").exists()
    moves = Event.objects.filter(ticket=ticket, action="desk.ticket.status_changed")
    assert [(e.old, e.new, e.actor_id) for e in moves] == [
        ("backlog", "in_progress", None),
        ("in_progress", "done", None),
    ]
    # A repeated "resolved" changes nothing more.
    again = post("generic", payloads.generic(status="resolved"), token)
    assert again.json()["alerts"][0]["result"] == "ignored"


def test_a_resolved_alert_that_nobody_saw_firing_is_ignored(bound, post):
    _integration, token = bound
    result = post("generic", payloads.generic(status="resolved"), token).json()["alerts"][0]
    assert result["result"] == "ignored"
    assert not Ticket.objects.exists()


def test_flapping_reuses_the_open_request(bound, post):
    _integration, token = bound
    post("generic", payloads.generic(), token)
    post("generic", payloads.generic(status="resolved"), token)
    again = post("generic", payloads.generic(), token).json()["alerts"][0]
    ticket = Ticket.objects.get()
    assert again == {"fingerprint": "erp-login", "result": "updated", "ticket": ticket.number}
    assert _notes(ticket, "alerts.alert.fired_again")
    assert AlertIncident.objects.get().state == "firing"


def test_flapping_after_done_reopens_within_the_window(bound, post):
    integration, token = bound
    integration.resolve_moves_to_done = True
    integration.save()
    post("generic", payloads.generic(), token)
    post("generic", payloads.generic(status="resolved"), token)
    again = post("generic", payloads.generic(), token).json()["alerts"][0]
    ticket = Ticket.objects.get()
    assert again["result"] == "reopened"
    assert ticket.status == Status.IN_PROGRESS


def test_a_firing_after_the_flap_window_opens_a_linked_follow_up(bound, post):
    integration, token = bound
    integration.resolve_moves_to_done = True
    integration.save()
    post("generic", payloads.generic(), token)
    post("generic", payloads.generic(status="resolved"), token)
    AlertIncident.objects.update(resolved_at=timezone.now() - timedelta(minutes=31))
    result = post("generic", payloads.generic(), token).json()["alerts"][0]
    assert result["result"] == "follow_up"
    old, new = Ticket.objects.order_by("pk")
    assert new.number == result["ticket"] and old.status == Status.DONE
    assert TicketLink.objects.filter(source=old, target=new).exists()
    assert _notes(new, "alerts.alert.follow_up")[0].display_note.endswith(
        f"{old.number}, opened earlier by the same alert."
    )
    first, second = AlertIncident.objects.order_by("pk")
    assert (first.is_current, second.is_current, second.follows) == (False, True, first)
    # And the follow-up is where the next firing goes.
    post("generic", payloads.generic(), token)
    assert Ticket.objects.count() == 2


def test_a_released_request_is_never_reopened_by_an_alert(bound, post, consultant):
    from aftercare.desk import services as desk

    _integration, token = bound
    post("generic", payloads.generic(), token)
    ticket = Ticket.objects.get()
    for target in (Status.IN_PROGRESS, Status.DONE, Status.RELEASED):
        desk.transition(ticket=ticket, actor=consultant, target=target)
    result = post("generic", payloads.generic(), token).json()["alerts"][0]
    assert result["result"] == "follow_up"
    assert Ticket.objects.get(pk=ticket.pk).status == Status.RELEASED


def _window_now(environment) -> MaintenanceWindow:
    local = timezone.localtime(timezone.now(), environment.organisation.zone)
    start = (local - timedelta(hours=1)).time().replace(microsecond=0)
    end = (local + timedelta(hours=1)).time().replace(microsecond=0)
    return MaintenanceWindow.objects.create(
        environment=environment,
        weekday=(local - timedelta(hours=1)).weekday(),
        starts_at=start,
        ends_at=end,
    )


def test_alerts_inside_a_maintenance_window_are_silenced(bound, post, land):
    from aftercare.availability.models import Downtime

    _integration, token = bound
    window = _window_now(land["production"])
    body = payloads.generic(severity="critical", starts_at=timezone.now().isoformat())
    result = post("generic", body, token).json()["alerts"][0]
    assert result == {"fingerprint": "erp-login", "result": "silenced"}
    assert not Ticket.objects.exists()
    incident = AlertIncident.objects.get()
    assert (incident.ticket, incident.silenced, incident.state) == (None, 1, "firing")
    assert AlertPayload.objects.get().outcome == "accepted"
    # The outage is still recorded, as planned downtime.
    assert Downtime.objects.get().planned is True
    window.delete()
    opened = post("generic", body, token).json()["alerts"][0]
    assert opened["result"] == "opened"
    incident.refresh_from_db()
    assert (incident.ticket.number, incident.count) == (opened["ticket"], 2)


def test_critical_alerts_open_and_close_a_downtime(bound, post, land):
    from aftercare.availability.models import Downtime

    _integration, token = bound
    post("alertmanager", payloads.alertmanager(payloads.am_alert("fp-1")), token)
    post(
        "alertmanager",
        payloads.alertmanager(payloads.am_alert("fp-2", severity="warning")),
        token,
    )
    post(
        "alertmanager",
        payloads.alertmanager(payloads.am_alert("fp-3", severity="warning", downtime="true")),
        token,
    )
    downtimes = {d.fingerprint: d for d in Downtime.objects.all()}
    assert set(downtimes) == {"fp-1", "fp-3"}
    ticket = AlertIncident.objects.get(fingerprint="fp-1").ticket
    assert list(downtimes["fp-1"].incidents.all()) == [ticket]
    post(
        "alertmanager",
        payloads.alertmanager(payloads.am_alert("fp-1", status="resolved"), status="resolved"),
        token,
    )
    downtimes["fp-1"].refresh_from_db()
    assert downtimes["fp-1"].ended_at is not None
    assert Downtime.objects.get(fingerprint="fp-3").ended_at is None


def test_the_severity_map_is_configurable(bound, post):
    integration, token = bound
    integration.severity_priorities = {"critical": 2, "high": 4}
    integration.save()
    post("generic", payloads.generic(severity="disaster"), token)
    post("generic", payloads.generic(fingerprint="b", severity="error"), token)
    priorities = dict(AlertIncident.objects.values_list("fingerprint", "ticket__priority"))
    assert priorities == {"erp-login": Priority.HIGH, "b": Priority.LOW}


def test_alerts_follow_a_request_merged_into_another(bound, post, consultant, owner, org):
    from aftercare.desk.merge import merge
    from aftercare.desk.tests.factories import ticket_for

    _integration, token = bound
    post("generic", payloads.generic(), token)
    duplicate = Ticket.objects.get()
    survivor = ticket_for(owner, org, subject="The ERP is down")
    merge(duplicate=duplicate, survivor=survivor, actor=consultant)
    result = post("generic", payloads.generic(), token).json()["alerts"][0]
    assert result == {"fingerprint": "erp-login", "result": "updated", "ticket": survivor.number}
    assert AlertIncident.objects.get().ticket == survivor
    assert Ticket.objects.count() == 2


@pytest.mark.parametrize("fmt", ["alertmanager", "zabbix", "generic"])
@pytest.mark.parametrize("role", ["owner", "coordinator", "operator", "manager"])
def test_a_signed_in_person_is_no_sender(request, fmt, role, bound, post, client_for):
    client = client_for(request.getfixturevalue(role))
    response = post(fmt, payloads.generic(), None, client=client)
    assert response.status_code == 401
    assert not Ticket.objects.exists() and not AlertPayload.objects.exists()
