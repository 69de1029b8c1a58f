"""The release page (notes per language, what it delivers, rollout), the approval form on
a production environment, and release notes in the portal — as each role."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from aftercare.accounts.roles import Role
from aftercare.desk.models import Approval, Category
from aftercare.desk.tests.factories import ticket_for
from aftercare.lifecycle.models import DeliveredRequest, Deployment, ReleaseApproval, ReleaseNote
from aftercare.lifecycle.services import deploy
from aftercare.lifecycle.tests.factories import landscape
from aftercare.tenancy.models import AgentRestriction
from aftercare.tenancy.tests.factories import staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def land(org):
    return landscape(org)


@pytest.fixture
def theirs(other_org):
    return landscape(other_org)


def _page(release):
    return reverse("lifecycle:release", args=[release.pk])


def test_the_release_page_shows_notes_delivered_requests_and_rollout(
    land, theirs, consultant, client_for, owner, org
):
    deploy(
        release=land["r113"],
        environment=land["test"],
        actor=consultant,
        result=Deployment.Result.SUCCEEDED,
        deployed_at=datetime(2026, 3, 2, 9, tzinfo=UTC),
    )
    client = client_for(consultant)
    page = client.get(_page(land["r113"]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "alpha ERP: Test" in html and "beta ERP: Production" in html
    assert "Succeeded" in html

    fixed = ticket_for(owner, org, category=Category.INCIDENT, subject="Totals are wrong")
    added = client.post(
        _page(land["r113"]), {"action": "deliver", "deliver-number": fixed.number.lower()}
    )
    assert added.status_code == 302
    assert DeliveredRequest.objects.get().ticket == fixed
    assert "Totals are wrong" in client.get(_page(land["r113"])).content.decode()


def test_a_number_the_agent_may_not_see_is_refused_like_a_missing_one(
    land, theirs, client_for, outsider, other_org, org
):
    restricted = staff(Role.CONSULTANT, username="restricted")
    AgentRestriction.objects.create(user=restricted, organisation=org)
    foreign = ticket_for(outsider, other_org, category=Category.INCIDENT)
    client = client_for(restricted)
    page = client.get(_page(land["r113"]))
    assert page.status_code == 200
    assert "beta ERP" not in page.content.decode()  # the rollout shows only their customers
    refused = client.post(
        _page(land["r113"]), {"action": "deliver", "deliver-number": foreign.number}
    )
    assert refused.status_code == 400
    assert f"No request {foreign.number} that you may see." in refused.content.decode()
    assert not DeliveredRequest.objects.exists()


def test_release_notes_in_another_language_are_kept_per_language(land, client_for):
    admin = staff(Role.ADMIN, username="admin")
    client = client_for(admin)
    for text in ("Перша версія", "Нове поле в накладній."):
        response = client.post(
            _page(land["r113"]), {"action": "note", "note-language": "uk", "note-text": text}
        )
        assert response.status_code == 302
    assert list(ReleaseNote.objects.values_list("language", "text")) == [
        ("uk", "Нове поле в накладній.")
    ]
    empty = client.post(
        _page(land["r113"]), {"action": "note", "note-language": "uk", "note-text": " "}
    )
    assert empty.status_code == 400
    assert ReleaseNote.objects.get().text == "Нове поле в накладній."


def test_a_restricted_agent_cannot_change_the_catalogues_notes(land, org, client_for):
    restricted = staff(Role.MANAGER, username="restricted-manager")
    AgentRestriction.objects.create(user=restricted, organisation=org)
    response = client_for(restricted).post(
        _page(land["r113"]), {"action": "note", "note-language": "fr", "note-text": "Bonjour"}
    )
    assert response.status_code == 403
    assert not ReleaseNote.objects.exists()


@pytest.mark.parametrize("who", ["owner", "coordinator"])
def test_customers_cannot_open_the_release_page(request, land, client_for, who):
    user = request.getfixturevalue(who)
    assert client_for(user).get(_page(land["r113"])).status_code == 403
    response = client_for(user).post(
        _page(land["r113"]), {"action": "note", "note-language": "fr", "note-text": "x"}
    )
    assert response.status_code == 403


def test_an_agent_asks_the_customer_to_approve_a_release_for_production(
    land, consultant, client_for, owner, org, coordinator
):
    change = ticket_for(owner, org, category=Category.CHANGE, subject="New report")
    url = reverse("lifecycle:environment", args=[land["production"].pk])
    client = client_for(consultant)
    assert 'id="release-approval-form"' in client.get(url).content.decode()
    response = client.post(
        url,
        {"action": "ask_approval", "release": land["r113sp1"].pk, "ticket": change.pk},
    )
    assert response.status_code == 302
    binding = ReleaseApproval.objects.get()
    assert binding.release == land["r113sp1"] and binding.environment == land["production"]
    assert binding.approval.state == Approval.State.PENDING
    assert "11.3 SP1" in client.get(url).content.decode()


def test_the_approval_form_offers_only_the_customers_own_change_requests(
    land, theirs, consultant, client_for, outsider, other_org
):
    foreign = ticket_for(outsider, other_org, category=Category.CHANGE)
    url = reverse("lifecycle:environment", args=[land["production"].pk])
    response = client_for(consultant).post(
        url, {"action": "ask_approval", "release": land["r113"].pk, "ticket": foreign.pk}
    )
    assert response.status_code == 400
    assert not ReleaseApproval.objects.exists()


def test_the_portal_shows_release_notes_in_the_readers_language(
    land, theirs, client_for, coordinator
):
    land["r113"].notes = "New delivery note field."
    land["r113"].save()
    ReleaseNote.objects.create(release=land["r113"], language="fr", text="Nouveau champ.")
    coordinator.language = "fr"
    coordinator.save(update_fields=["language"])
    html = client_for(coordinator).get(reverse("lifecycle_portal:environments")).content.decode()
    assert "Nouveau champ." in html and "New delivery note field." not in html
    coordinator.language = "ro"
    coordinator.save(update_fields=["language"])
    html = client_for(coordinator).get(reverse("lifecycle_portal:environments")).content.decode()
    assert "New delivery note field." in html
