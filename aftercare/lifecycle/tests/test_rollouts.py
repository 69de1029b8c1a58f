"""A release rolled out to many customers: planned in windows, never before its date or in
the past, each environment's result recorded under every deployment rule."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from aftercare.accounts.roles import Role
from aftercare.desk.models import Category, Status
from aftercare.desk.tests.factories import ticket_for
from aftercare.lifecycle import services
from aftercare.lifecycle.models import (
    Deployment,
    MaintenanceWindow,
    PlannedUpgrade,
    Rollout,
)
from aftercare.lifecycle.services import RolloutRefused, plan_rollout, record_upgrade
from aftercare.lifecycle.tests.factories import landscape, release
from aftercare.tenancy.models import AgentRestriction
from aftercare.tenancy.tests.factories import OrganisationFactory, customer, staff

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # Monday morning
SUCCEEDED = Deployment.Result.SUCCEEDED


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def three(org, other_org):
    third = OrganisationFactory(name="Gamma Retail", code="gamma", time_zone="Europe/Paris")
    lands = [landscape(org), landscape(other_org), landscape(third)]
    # Every customer proved 11.3 on test already.
    actor = staff(Role.CONSULTANT, username="prover")
    for land in lands:
        services.deploy(
            release=land["r113"],
            environment=land["test"],
            actor=actor,
            result=SUCCEEDED,
            deployed_at=NOW - timedelta(days=3),
        )
    return lands


def _productions(lands):
    return [land["production"] for land in lands]


def test_a_release_is_planned_for_three_customers_and_each_result_recorded(
    three, consultant, org, owner
):
    fixed = ticket_for(owner, org, category=Category.INCIDENT)
    services.mark_delivered(release=three[0]["r113"], ticket=fixed, actor=consultant)
    rollout = plan_rollout(
        release=three[0]["r113"],
        environments=_productions(three),
        day=date(2026, 3, 3),
        at_time=time(19, 0),
        actor=consultant,
    )
    targets = list(rollout.targets.order_by("pk"))
    assert len(targets) == 3
    assert {t.state for t in targets} == {PlannedUpgrade.State.PLANNED}
    # Beta is in Kyiv: 19:00 there is 17:00 UTC.
    beta = next(t for t in targets if t.organisation.code == "beta")
    assert beta.planned_at == datetime(2026, 3, 3, 17, 0, tzinfo=UTC)

    with time_machine.travel(datetime(2026, 3, 3, 18, 0, tzinfo=UTC), tick=False):
        record_upgrade(target=targets[0], actor=consultant, result=SUCCEEDED)
        record_upgrade(target=targets[1], actor=consultant, result=Deployment.Result.FAILED)
        record_upgrade(target=targets[2], actor=consultant, result=Deployment.Result.ROLLED_BACK)
    states = dict(rollout.targets.values_list("organisation__code", "state"))
    assert states == {"alpha": "succeeded", "beta": "failed", "gamma": "rolled_back"}
    assert services.rollout_summary(rollout.targets.all())["failed"] == 1
    fixed.refresh_from_db()
    assert fixed.status == Status.RELEASED  # alpha's production succeeded
    three[1]["production"].refresh_from_db()
    assert three[1]["production"].version == "11.2"  # beta failed: nothing moved


def test_nothing_is_planned_before_the_release_date_or_in_the_past(three, consultant):
    later = release(three[0]["product"], "11.4", released_on=date(2026, 3, 20))
    with pytest.raises(RolloutRefused) as excinfo:
        plan_rollout(
            release=later, environments=_productions(three), day=date(2026, 3, 10), actor=consultant
        )
    assert "released on 2026-03-20" in " ".join(excinfo.value.reasons)
    with pytest.raises(RolloutRefused) as excinfo:
        plan_rollout(
            release=three[0]["r113"],
            environments=_productions(three),
            day=date(2026, 3, 1),
            actor=consultant,
        )
    assert "is in the past" in " ".join(excinfo.value.reasons)
    assert not Rollout.objects.exists()


def test_an_environment_with_windows_is_planned_at_its_next_window(three, consultant):
    land = three[0]
    MaintenanceWindow.objects.create(
        contract=land["contract"],
        weekday=MaintenanceWindow.Weekday.SATURDAY,
        starts_at=time(20, 0),
        ends_at=time(23, 0),
    )
    rollout = plan_rollout(
        release=land["r113"],
        environments=[land["production"]],
        day=date(2026, 3, 3),
        actor=consultant,
    )
    target = rollout.targets.get()
    # Saturday 7 March, 20:00 in Bucharest (the factory's zone for alpha) or UTC.
    local = target.planned_at.astimezone(land["production"].organisation.zone)
    assert local.date() == date(2026, 3, 7) and local.time() == time(20, 0)
    # Recording the result outside the window is refused by the deployment rules.
    with (
        time_machine.travel(datetime(2026, 3, 4, 12, 0, tzinfo=UTC), tick=False),
        pytest.raises(services.DeploymentRefused) as excinfo,
    ):
        record_upgrade(target=target, actor=consultant, result=SUCCEEDED)
    assert "outside the maintenance windows" in " ".join(excinfo.value.reasons)
    target.refresh_from_db()
    assert target.state == PlannedUpgrade.State.PLANNED and target.deployment is None


def test_environments_already_on_the_release_or_planned_are_refused(three, consultant):
    land = three[0]
    plan_rollout(
        release=land["r113"],
        environments=[land["production"]],
        day=date(2026, 3, 3),
        actor=consultant,
    )
    with pytest.raises(RolloutRefused) as excinfo:
        plan_rollout(
            release=land["r113"],
            environments=[land["production"], land["test"]],
            day=date(2026, 3, 4),
            actor=consultant,
        )
    reasons = " ".join(excinfo.value.reasons)
    assert "already has an upgrade to 11.3 planned" in reasons
    assert "already runs 11.3" in reasons


def test_a_result_is_recorded_once(three, consultant):
    land = three[0]
    rollout = plan_rollout(
        release=land["r113"],
        environments=[land["production"]],
        day=date(2026, 3, 2),
        actor=consultant,
    )
    target = rollout.targets.get()
    record_upgrade(target=target, actor=consultant, result=Deployment.Result.FAILED)
    with pytest.raises(RolloutRefused):
        record_upgrade(target=target, actor=consultant, result=SUCCEEDED)
    assert Deployment.objects.filter(environment=land["production"]).count() == 1


def test_a_restricted_agent_plans_and_sees_only_their_customers(three, org, client_for):
    agent = staff(Role.CONSULTANT, username="restricted")
    AgentRestriction.objects.create(user=agent, organisation=org)
    with pytest.raises(PermissionDenied):
        plan_rollout(
            release=three[0]["r113"],
            environments=_productions(three),
            day=date(2026, 3, 3),
            actor=agent,
        )
    everyone = staff(Role.MANAGER, username="boss")
    rollout = plan_rollout(
        release=three[0]["r113"],
        environments=_productions(three),
        day=date(2026, 3, 3),
        actor=everyone,
    )
    client = client_for(agent)
    page = client.get(reverse("lifecycle:rollout", args=[rollout.pk])).content.decode()
    assert "Alpha Foods" in page and "Beta Logistics" not in page and "Gamma" not in page
    beta_target = rollout.targets.get(organisation__code="beta")
    refused = client.post(
        reverse("lifecycle:rollout", args=[rollout.pk]),
        {"action": "record", "target": beta_target.pk, "result": SUCCEEDED},
    )
    assert refused.status_code == 404
    beta_target.refresh_from_db()
    assert beta_target.state == PlannedUpgrade.State.PLANNED
    # A rollout with none of their customers is not theirs to open.
    only_beta = plan_rollout(
        release=three[0]["r113"],
        environments=[three[1]["training"]],
        day=date(2026, 3, 3),
        actor=everyone,
    )
    assert client.get(reverse("lifecycle:rollout", args=[only_beta.pk])).status_code == 404


def test_the_console_plans_and_records_through_the_pages(three, consultant, client_for):
    client = client_for(consultant)
    url = reverse("lifecycle:rollout-new", args=[three[0]["r113"].pk])
    form = client.get(url).content.decode()
    assert "Beta Logistics" in form and "Gamma Retail" in form
    response = client.post(
        url,
        {
            "environments": [e.pk for e in _productions(three)],
            "day": "2026-03-03",
            "at_time": "19:00",
        },
    )
    assert response.status_code == 302
    rollout = Rollout.objects.get()
    target = rollout.targets.get(organisation__code="alpha")
    with time_machine.travel(datetime(2026, 3, 3, 18, 0, tzinfo=UTC), tick=False):
        done = client.post(
            reverse("lifecycle:rollout", args=[rollout.pk]),
            {"action": "record", "target": target.pk, "result": SUCCEEDED, "notes": "ok"},
        )
    assert done.status_code == 302
    target.refresh_from_db()
    assert target.state == "succeeded" and target.deployment.notes == "ok"
    cancelled = client.post(
        reverse("lifecycle:rollout", args=[rollout.pk]),
        {
            "action": "cancel",
            "target": rollout.targets.get(organisation__code="beta").pk,
            "reason": "",
        },
    )
    assert cancelled.status_code == 400
    assert "Give the reason" in cancelled.content.decode()


def test_customers_see_their_planned_upgrades_and_nobody_elses(three, consultant, client_for, org):
    plan_rollout(
        release=three[0]["r113"],
        environments=_productions(three),
        day=date(2026, 3, 3),
        at_time=time(19, 0),
        actor=consultant,
    )
    coordinator = customer(org, role=Role.COORDINATOR, username="coord")
    html = client_for(coordinator).get(reverse("lifecycle_portal:environments")).content.decode()
    assert 'id="planned-upgrades"' in html and "alpha ERP: Production" in html
    assert "beta ERP" not in html
    assert client_for(coordinator).get(reverse("lifecycle:rollouts")).status_code == 403
