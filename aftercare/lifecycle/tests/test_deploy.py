"""Every rule of ``services.deploy``, through the real service and database."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.core.exceptions import PermissionDenied

from aftercare.accounts.roles import Role
from aftercare.desk import approvals
from aftercare.desk.models import Approval, Category, Event
from aftercare.desk.tests.factories import ticket_for
from aftercare.lifecycle import services
from aftercare.lifecycle.models import (
    ChangeLink,
    Deployment,
    Environment,
    MaintenanceWindow,
    Release,
    version_key,
)
from aftercare.lifecycle.services import DeploymentRefused, deploy
from aftercare.lifecycle.tests.factories import landscape
from aftercare.tenancy.models import AgentRestriction, System
from aftercare.tenancy.tests.factories import OrganisationFactory, staff

pytestmark = pytest.mark.django_db

SUCCEEDED = Deployment.Result.SUCCEEDED
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def land(org):
    return landscape(org)


@pytest.fixture
def administrator(db):
    return staff(Role.ADMIN, username="admin")


def _fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def _proved(land, user, release=None, at=T0):
    return deploy(
        release=release or land["r113"],
        environment=land["test"],
        actor=user,
        result=SUCCEEDED,
        deployed_at=at,
    )


def _refusal(excinfo) -> str:
    return " ".join(excinfo.value.reasons)


# -- versions ---------------------------------------------------------------------------


def test_it_orders_versions_as_numbers_and_service_packs_after_their_base():
    assert version_key("11.2") < version_key("11.3") < version_key("11.3", "SP1")
    assert version_key("11.3", "SP1") < version_key("11.3", "SP2") < version_key("11.10")
    assert version_key("9.9") < version_key("11.0")


def test_it_moves_the_environment_version_after_a_successful_deployment(land, consultant):
    deployment = _proved(land, consultant)
    test_env = _fresh(land["test"])
    assert (test_env.version, test_env.current_release) == ("11.3", land["r113"])
    assert deployment.previous_version == "11.2"
    assert deployment.deployed_by == consultant


def test_it_moves_the_system_version_with_its_production_environment(land, consultant):
    _proved(land, consultant)
    deploy(
        release=land["r113"],
        environment=land["production"],
        actor=consultant,
        result=SUCCEEDED,
        deployed_at=T0 + timedelta(days=1),
    )
    assert _fresh(land["production"]).version == "11.3"
    assert _fresh(land["system"]).version == "11.3"


def test_a_test_deployment_does_not_move_the_system_version(land, consultant):
    _proved(land, consultant)
    assert _fresh(land["system"]).version == "11.2"


@pytest.mark.parametrize("result", [Deployment.Result.FAILED, Deployment.Result.ROLLED_BACK])
def test_a_failed_or_rolled_back_deployment_does_not_change_the_version(land, consultant, result):
    deployment = deploy(
        release=land["r113"],
        environment=land["test"],
        actor=consultant,
        result=result,
        deployed_at=T0,
    )
    assert Deployment.objects.filter(pk=deployment.pk, result=result).exists()
    assert _fresh(land["test"]).version == "11.2"
    assert _fresh(land["test"]).current_release == land["r112"]


def test_an_older_deployment_recorded_late_does_not_move_the_version_back(land, consultant):
    _proved(land, consultant, release=land["r113sp1"], at=T0)
    _proved(land, consultant, release=land["r113"], at=T0 - timedelta(days=10))
    assert _fresh(land["test"]).version == "11.3 SP1"


# -- test or training before production --------------------------------------------------


def test_it_refuses_production_before_the_release_succeeded_on_test_or_training(land, consultant):
    with pytest.raises(DeploymentRefused) as excinfo:
        deploy(
            release=land["r113"],
            environment=land["production"],
            actor=consultant,
            result=SUCCEEDED,
            deployed_at=T0,
        )
    assert "has not yet succeeded on a test or training environment" in _refusal(excinfo)
    assert not Deployment.objects.exists()
    assert _fresh(land["production"]).version == "11.2"


def test_a_failed_test_deployment_does_not_prove_the_release(land, consultant):
    deploy(
        release=land["r113"],
        environment=land["test"],
        actor=consultant,
        result=Deployment.Result.FAILED,
        deployed_at=T0,
    )
    with pytest.raises(DeploymentRefused):
        deploy(
            release=land["r113"],
            environment=land["production"],
            actor=consultant,
            result=SUCCEEDED,
            deployed_at=T0 + timedelta(days=1),
        )


def test_a_training_environment_proves_the_release_too(land, developer):
    deploy(
        release=land["r113"],
        environment=land["training"],
        actor=developer,
        result=SUCCEEDED,
        deployed_at=T0,
    )
    deploy(
        release=land["r113"],
        environment=land["production"],
        actor=developer,
        result=SUCCEEDED,
        deployed_at=T0 + timedelta(hours=2),
    )
    assert _fresh(land["production"]).version == "11.3"


def test_a_test_environment_of_another_system_does_not_prove_the_release(land, org, consultant):
    other = System.objects.create(
        organisation=org, name="Second ERP", product="Aftercare ERP", version="11.2"
    )
    other_test = Environment.objects.create(
        system=other, kind=Environment.Kind.TEST, name="Other test"
    )
    deploy(
        release=land["r113"],
        environment=other_test,
        actor=consultant,
        result=SUCCEEDED,
        deployed_at=T0,
    )
    with pytest.raises(DeploymentRefused):
        deploy(
            release=land["r113"],
            environment=land["production"],
            actor=consultant,
            result=SUCCEEDED,
            deployed_at=T0 + timedelta(days=1),
        )


def test_a_different_release_on_test_does_not_prove_this_one(land, consultant):
    _proved(land, consultant, release=land["r113"])
    with pytest.raises(DeploymentRefused):
        deploy(
            release=land["r113sp1"],
            environment=land["production"],
            actor=consultant,
            result=SUCCEEDED,
            deployed_at=T0 + timedelta(days=1),
        )


def test_the_test_deployment_must_come_before_the_production_one(land, consultant):
    _proved(land, consultant, at=T0)
    with pytest.raises(DeploymentRefused):
        deploy(
            release=land["r113"],
            environment=land["production"],
            actor=consultant,
            result=SUCCEEDED,
            deployed_at=T0 - timedelta(hours=1),
        )


# -- emergency changes -------------------------------------------------------------------


@pytest.mark.parametrize("role", ["manager", "administrator"])
def test_an_emergency_change_approved_by_a_manager_or_admin_skips_the_test_rule(
    request, land, role
):
    user = request.getfixturevalue(role)
    deployment = deploy(
        release=land["r113"],
        environment=land["production"],
        actor=user,
        result=SUCCEEDED,
        deployed_at=T0,
        emergency=True,
        emergency_reason="Payroll fails for every employee; hotfix only in 11.3.",
    )
    assert deployment.is_emergency
    assert deployment.emergency_approved_by == user
    assert deployment.emergency_approved_at is not None
    assert deployment.emergency_reason.startswith("Payroll fails")
    assert _fresh(land["production"]).version == "11.3"


@pytest.mark.parametrize("role", ["consultant", "developer"])
def test_an_emergency_change_by_a_consultant_or_developer_is_refused(request, land, role):
    with pytest.raises(DeploymentRefused) as excinfo:
        deploy(
            release=land["r113"],
            environment=land["production"],
            actor=request.getfixturevalue(role),
            result=SUCCEEDED,
            deployed_at=T0,
            emergency=True,
            emergency_reason="Urgent",
        )
    assert "support manager or an administrator" in _refusal(excinfo)
    assert not Deployment.objects.exists()


def test_an_emergency_change_needs_a_reason(land, manager):
    with pytest.raises(DeploymentRefused) as excinfo:
        deploy(
            release=land["r113"],
            environment=land["production"],
            actor=manager,
            result=SUCCEEDED,
            deployed_at=T0,
            emergency=True,
            emergency_reason="   ",
        )
    assert "reason for the emergency" in _refusal(excinfo)


# -- who may record ----------------------------------------------------------------------


def test_an_operator_may_not_record_deployments(land, operator):
    with pytest.raises(PermissionDenied):
        _proved(land, operator)


def test_a_customer_may_not_record_deployments(land, coordinator):
    with pytest.raises(PermissionDenied):
        _proved(land, coordinator)


def test_an_agent_restricted_to_another_organisation_may_not_record(land, consultant, other_org):
    AgentRestriction.objects.create(user=consultant, organisation=other_org)
    with pytest.raises(PermissionDenied):
        _proved(land, consultant)


def test_it_refuses_a_release_of_another_product(land, consultant):
    crm = landscape(OrganisationFactory(), product_name="Aftercare CRM")
    with pytest.raises(DeploymentRefused) as excinfo:
        deploy(
            release=crm["r113"],
            environment=land["test"],
            actor=consultant,
            result=SUCCEEDED,
            deployed_at=T0,
        )
    assert "Aftercare CRM" in _refusal(excinfo)


def test_it_refuses_a_deployment_in_the_future(land, consultant):
    from django.utils import timezone

    with pytest.raises(DeploymentRefused) as excinfo:
        _proved(land, consultant, at=timezone.now() + timedelta(days=1))
    assert "future" in _refusal(excinfo)


# -- change requests and the customer's approval -----------------------------------------


@pytest.fixture
def change(org, owner, coordinator):
    return ticket_for(
        owner, org, subject="New field on the delivery note", category=Category.CHANGE
    )


def _ask(change, consultant) -> Approval:
    return approvals.request(ticket=change, actor=consultant, action="Deploy 11.3 to production")


def _to_production(land, user, change, at=T0 + timedelta(days=1)):
    return deploy(
        release=land["r113"],
        environment=land["production"],
        actor=user,
        result=SUCCEEDED,
        deployed_at=at,
        change_requests=[change],
    )


def test_a_production_change_needs_a_customer_approval(land, consultant, change):
    _proved(land, consultant)
    with pytest.raises(DeploymentRefused) as excinfo:
        _to_production(land, consultant, change)
    assert change.number in _refusal(excinfo)
    assert "no customer approval" in _refusal(excinfo)


def test_a_pending_approval_is_refused(land, consultant, change):
    _proved(land, consultant)
    _ask(change, consultant)
    with pytest.raises(DeploymentRefused) as excinfo:
        _to_production(land, consultant, change)
    assert "has not answered" in _refusal(excinfo)


def test_a_declined_approval_is_refused(land, consultant, change, coordinator):
    _proved(land, consultant)
    approvals.decide(
        approval=_ask(change, consultant),
        user=coordinator,
        approve=False,
        via=Approval.Via.PORTAL,
    )
    with pytest.raises(DeploymentRefused) as excinfo:
        _to_production(land, consultant, change)
    assert "declined" in _refusal(excinfo)
    assert not ChangeLink.objects.exists()


def test_a_granted_approval_lets_the_change_go_to_production(land, consultant, change, coordinator):
    _proved(land, consultant)
    approvals.decide(
        approval=_ask(change, consultant), user=coordinator, approve=True, via=Approval.Via.PORTAL
    )
    deployment = _to_production(land, consultant, change)
    assert list(ChangeLink.objects.values_list("deployment", "ticket")) == [
        (deployment.pk, change.pk)
    ]
    note = Event.objects.get(ticket=change, action="lifecycle.deployment.recorded")
    assert "11.3" in note.note and "Production" in note.note
    assert note.is_internal


def test_a_later_decline_overrides_an_earlier_approval(land, consultant, change, coordinator):
    _proved(land, consultant)
    approvals.decide(
        approval=_ask(change, consultant), user=coordinator, approve=True, via=Approval.Via.PORTAL
    )
    approvals.decide(
        approval=_ask(change, consultant), user=coordinator, approve=False, via=Approval.Via.PORTAL
    )
    with pytest.raises(DeploymentRefused):
        _to_production(land, consultant, change)


def test_a_change_request_needs_no_approval_on_a_test_environment(land, consultant, change):
    _proved(land, consultant)
    deployment = deploy(
        release=land["r113sp1"],
        environment=land["test"],
        actor=consultant,
        result=SUCCEEDED,
        deployed_at=T0 + timedelta(hours=1),
        change_requests=[change],
    )
    assert deployment.change_links.get().ticket == change
    assert Event.objects.filter(ticket=change, action="lifecycle.deployment.recorded").exists()


def test_only_changes_incidents_and_problems_can_be_linked(land, consultant, owner, org):
    question = ticket_for(owner, org, category=Category.CONSULTATION)
    with pytest.raises(DeploymentRefused) as excinfo:
        deploy(
            release=land["r113"],
            environment=land["test"],
            actor=consultant,
            result=SUCCEEDED,
            deployed_at=T0,
            change_requests=[question],
        )
    assert "delivers change requests, incidents and problems" in _refusal(excinfo)


def test_another_customers_change_request_cannot_be_linked(land, consultant, other_org, outsider):
    foreign = ticket_for(outsider, other_org, category=Category.CHANGE)
    with pytest.raises(DeploymentRefused) as excinfo:
        deploy(
            release=land["r113"],
            environment=land["test"],
            actor=consultant,
            result=SUCCEEDED,
            deployed_at=T0,
            change_requests=[foreign],
        )
    assert "belongs to another customer" in _refusal(excinfo)


# -- maintenance windows, in the organisation's time zone --------------------------------


@pytest.fixture
def saturday_night(land):
    """Saturdays 22:00 to 02:00 in Bucharest (UTC+2 in early March) for production."""
    return MaintenanceWindow.objects.create(
        contract=land["contract"],
        weekday=MaintenanceWindow.Weekday.SATURDAY,
        starts_at=time(22, 0),
        ends_at=time(2, 0),
    )


@pytest.mark.parametrize(
    ("utc", "inside"),
    [
        (datetime(2026, 3, 7, 20, 30, tzinfo=UTC), True),  # Sat 22:30 local, 20:30 UTC
        (datetime(2026, 3, 7, 22, 30, tzinfo=UTC), True),  # Sun 00:30 local (overnight)
        (datetime(2026, 3, 8, 0, 30, tzinfo=UTC), False),  # Sun 02:30 local, 00:30 UTC
        (datetime(2026, 3, 7, 19, 30, tzinfo=UTC), False),  # Sat 21:30 local
        (datetime(2026, 3, 4, 21, 0, tzinfo=UTC), False),  # a Wednesday night
    ],
)
def test_production_must_fall_inside_the_maintenance_window_in_local_time(
    land, consultant, saturday_night, utc, inside
):
    _proved(land, consultant, at=T0)
    attempt = lambda: deploy(  # noqa: E731
        release=land["r113"],
        environment=land["production"],
        actor=consultant,
        result=SUCCEEDED,
        deployed_at=utc,
    )
    if inside:
        attempt()
        assert _fresh(land["production"]).version == "11.3"
    else:
        with pytest.raises(DeploymentRefused) as excinfo:
            attempt()
        assert "outside the maintenance windows" in _refusal(excinfo)
        assert "Europe/Bucharest" in _refusal(excinfo)


def test_contract_windows_do_not_bind_test_environments(land, consultant, saturday_night):
    _proved(land, consultant, at=datetime(2026, 3, 4, 10, 0, tzinfo=UTC))  # a Wednesday
    assert _fresh(land["test"]).version == "11.3"


def test_an_environments_own_dated_window_applies_in_its_organisations_zone(other_org, consultant):
    kyiv = landscape(other_org)  # Europe/Kyiv, UTC+2 in early March
    MaintenanceWindow.objects.create(
        environment=kyiv["test"],
        on_date=date(2026, 3, 10),
        starts_at=time(8, 0),
        ends_at=time(9, 0),
    )
    with pytest.raises(DeploymentRefused):
        _proved(kyiv, consultant, at=datetime(2026, 3, 10, 8, 30, tzinfo=UTC))  # 10:30 local
    _proved(kyiv, consultant, at=datetime(2026, 3, 10, 6, 30, tzinfo=UTC))  # 08:30 local
    assert _fresh(kyiv["test"]).version == "11.3"


def test_the_window_rule_and_the_test_rule_are_reported_together(land, consultant, saturday_night):
    with pytest.raises(DeploymentRefused) as excinfo:
        deploy(
            release=land["r113"],
            environment=land["production"],
            actor=consultant,
            result=SUCCEEDED,
            deployed_at=datetime(2026, 3, 4, 10, 0, tzinfo=UTC),
        )
    assert len(excinfo.value.reasons) == 2


# -- who is behind -----------------------------------------------------------------------


def test_it_reports_environments_behind_the_latest_release(land, consultant):
    _proved(land, consultant, release=land["r113sp1"])
    rows = {r["environment"].name: r for r in services.version_rows(Environment.objects.all())}
    assert rows["Test"]["behind"] is False
    assert rows["Production"]["behind"] is True
    assert rows["Production"]["latest"] == land["r113sp1"]


def test_a_new_release_puts_current_environments_behind(land, consultant):
    _proved(land, consultant, release=land["r113sp1"])
    Release.objects.create(product=land["product"], version="11.4", released_on=date(2026, 5, 1))
    rows = {r["environment"].name: r for r in services.version_rows(Environment.objects.all())}
    assert rows["Test"]["behind"] is True
    assert rows["Test"]["latest"].version == "11.4"


def test_a_hand_entered_version_is_compared_too(org):
    land = landscape(org)
    Environment.objects.filter(pk=land["training"].pk).update(
        current_release=None, version="11.3 SP1"
    )
    Environment.objects.filter(pk=land["test"].pk).update(current_release=None, version="")
    rows = {r["environment"].name: r for r in services.version_rows(Environment.objects.all())}
    assert rows["Training"]["behind"] is False
    assert rows["Test"]["behind"] is True  # unknown: nobody can tell it is current


def test_a_product_without_releases_is_never_behind(org):
    system = System.objects.create(organisation=org, name="Legacy", product="Old thing")
    env = Environment.objects.create(system=system, kind=Environment.Kind.PRODUCTION, name="P")
    assert services.version_rows([env])[0]["behind"] is False


def test_a_version_typed_by_hand_wins_over_a_release_it_no_longer_matches(org):
    land = landscape(org)
    Environment.objects.filter(pk=land["training"].pk).update(version="11.3 SP1")
    rows = {r["environment"].name: r for r in services.version_rows(Environment.objects.all())}
    assert rows["Training"]["behind"] is False  # current_release still says 11.2


def test_a_window_may_not_join_a_contract_and_an_environment_of_different_customers(org, other_org):
    from django.core.exceptions import ValidationError

    ours, theirs = landscape(org), landscape(other_org)
    window = MaintenanceWindow(
        contract=theirs["contract"],
        environment=ours["production"],
        weekday=0,
        starts_at=time(1, 0),
        ends_at=time(2, 0),
    )
    with pytest.raises(ValidationError):
        window.clean()
