from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.core.exceptions import PermissionDenied

from aftercare.availability import services
from aftercare.availability.models import Downtime
from aftercare.availability.services import DowntimeRefused
from aftercare.desk.models import Event
from aftercare.desk.tests.factories import ticket_for
from aftercare.lifecycle.models import MaintenanceWindow
from aftercare.lifecycle.tests.factories import landscape
from aftercare.tenancy.models import AgentRestriction

T0 = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)


@pytest.fixture
def land(org):
    return landscape(org)


@pytest.fixture
def prod(land):
    return land["production"]


def test_open_is_idempotent_per_fingerprint_while_open(prod, ticket):
    first = services.open_downtime(
        environment=prod, started_at=T0, cause="DB down", fingerprint="fp1"
    )
    again = services.open_downtime(
        environment=prod,
        started_at=T0 + timedelta(minutes=5),
        cause="x",
        fingerprint="fp1",
        ticket=ticket,
    )
    assert again.pk == first.pk
    assert again.started_at == T0
    assert list(again.incidents.all()) == [ticket]
    assert Event.objects.filter(ticket=ticket, action="availability.downtime.linked").count() == 1
    # Linking again changes nothing.
    services.link_incident(again, ticket)
    assert Event.objects.filter(ticket=ticket, action="availability.downtime.linked").count() == 1
    assert Downtime.objects.count() == 1
    assert first.organisation_id == prod.organisation_id
    assert first.source == "alert" and first.planned is False


def test_close_then_open_again_makes_a_new_record(prod):
    first = services.open_downtime(environment=prod, started_at=T0, cause="down", fingerprint="fp")
    closed = services.close_downtime(
        environment=prod, fingerprint="fp", ended_at=T0 + timedelta(hours=1)
    )
    assert closed.pk == first.pk and closed.ended_at == T0 + timedelta(hours=1)
    assert services.close_downtime(environment=prod, fingerprint="fp", ended_at=T0) is None
    second = services.open_downtime(
        environment=prod, started_at=T0 + timedelta(hours=2), cause="down", fingerprint="fp"
    )
    assert second.pk != first.pk
    assert services.close_downtime(environment=prod, fingerprint="other", ended_at=T0) is None


def test_close_before_start_still_closes(prod):
    services.open_downtime(environment=prod, started_at=T0, cause="down", fingerprint="fp")
    closed = services.close_downtime(
        environment=prod, fingerprint="fp", ended_at=T0 - timedelta(hours=1)
    )
    assert closed.ended_at == T0 + timedelta(seconds=1)


def test_planned_follows_the_maintenance_windows(prod, org):
    # Tuesday 10 March 2026, 22:00-02:00 local (Bucharest, UTC+2).
    MaintenanceWindow.objects.create(
        environment=prod, weekday=1, starts_at=time(22, 0), ends_at=time(2, 0)
    )
    inside = datetime(2026, 3, 10, 21, 0, tzinfo=UTC)  # 23:00 local
    outside = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    assert services.open_downtime(
        environment=prod, started_at=inside, cause="upgrade", fingerprint="a"
    ).planned
    assert not services.open_downtime(
        environment=prod, started_at=outside, cause="crash", fingerprint="b"
    ).planned


def test_open_and_close_work_from_a_job_in_no_organisations_scope(prod):
    from django_scopes import scope

    with scope(organisation=[]):
        downtime = services.open_downtime(
            environment=prod, started_at=T0, cause="x", fingerprint="s"
        )
        closed = services.close_downtime(
            environment=prod, fingerprint="s", ended_at=T0 + timedelta(1)
        )
    assert closed.pk == downtime.pk


def test_open_refuses_the_future_and_naive_times(prod):
    with pytest.raises(DowntimeRefused):
        services.open_downtime(
            environment=prod, started_at=datetime(2099, 1, 1, tzinfo=UTC), cause="x"
        )
    with pytest.raises(DowntimeRefused):
        services.open_downtime(environment=prod, started_at=datetime(2026, 1, 1), cause="x")
    with pytest.raises(DowntimeRefused):
        services.open_downtime(environment=prod, started_at=T0, cause="x", source="carrier pigeon")


def test_link_refuses_another_customers_request(prod, outsider, other_org):
    downtime = services.open_downtime(environment=prod, started_at=T0, cause="x")
    foreign = ticket_for(outsider, other_org)
    with pytest.raises(DowntimeRefused):
        services.link_incident(downtime, foreign)
    assert downtime.incidents.count() == 0


def test_record_validates_end_after_start_and_overlaps(prod, consultant):
    with pytest.raises(DowntimeRefused) as exc:
        services.record_downtime(
            environment=prod, started_at=T0, ended_at=T0, cause="x", planned=False, actor=consultant
        )
    assert "after the start" in str(exc.value)
    with pytest.raises(DowntimeRefused) as exc:
        services.record_downtime(
            environment=prod,
            started_at=T0,
            ended_at=None,
            cause="  ",
            planned=False,
            actor=consultant,
        )
    assert "caused" in str(exc.value)
    kept = services.record_downtime(
        environment=prod,
        started_at=T0,
        ended_at=T0 + timedelta(hours=2),
        cause="disk",
        planned=None,
        actor=consultant,
    )
    with pytest.raises(DowntimeRefused) as exc:
        services.record_downtime(
            environment=prod,
            started_at=T0 + timedelta(hours=1),
            ended_at=T0 + timedelta(hours=3),
            cause="disk",
            planned=False,
            actor=consultant,
        )
    assert "overlaps" in str(exc.value)
    # Touching is not overlapping.
    services.record_downtime(
        environment=prod,
        started_at=T0 + timedelta(hours=2),
        ended_at=T0 + timedelta(hours=3),
        cause="disk again",
        planned=False,
        actor=consultant,
    )
    # An edit may keep its own interval.
    services.update_downtime(
        downtime=kept,
        started_at=T0,
        ended_at=T0 + timedelta(hours=1),
        cause="disk full",
        planned=True,
        actor=consultant,
    )
    kept.refresh_from_db()
    assert kept.cause == "disk full" and kept.planned


def test_staff_paths_check_role_and_restriction(prod, developer, consultant, other_org, owner):
    with pytest.raises(PermissionDenied):
        services.record_downtime(
            environment=prod,
            started_at=T0,
            ended_at=None,
            cause="x",
            planned=False,
            actor=developer,
        )
    with pytest.raises(PermissionDenied):
        services.record_downtime(
            environment=prod, started_at=T0, ended_at=None, cause="x", planned=False, actor=owner
        )
    AgentRestriction.objects.create(user=consultant, organisation=other_org)
    with pytest.raises(PermissionDenied):
        services.record_downtime(
            environment=prod,
            started_at=T0,
            ended_at=None,
            cause="x",
            planned=False,
            actor=consultant,
        )
    assert Downtime.objects.count() == 0
