"""Documents on projects, stages, migrations and releases: versioned, per language,
published to the customer — and never seen across the organisation line."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from aftercare.accounts.roles import Role
from aftercare.artefacts import services
from aftercare.artefacts.models import Artefact, ArtefactVersion
from aftercare.lifecycle.tests.factories import landscape
from aftercare.ops import maintenance
from aftercare.projects import services as project_services
from aftercare.projects.defaults import ensure_default
from aftercare.projects.models import PlanTemplate
from aftercare.saas.tests.factories import shallow
from aftercare.tenancy.models import AgentRestriction
from aftercare.tenancy.tests.factories import customer, staff

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n% a tiny but real-looking PDF\n"
T = Artefact.Target


def _pdf(name="manual.pdf"):
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


def _project(org, manager, name):
    ensure_default()
    return project_services.create_project(
        actor=manager,
        organisation=org,
        name=name,
        go_live_on=date(2030, 6, 1),
        template=PlanTemplate.objects.get(is_default=True),
    )


@pytest.fixture
def alpha_project(org, manager):
    return _project(org, manager, "Alpha ERP go-live")


@pytest.fixture
def beta_project(other_org, manager):
    return _project(other_org, manager, "Beta WMS go-live")


def _manual(manager, project, publish=True, **kw):
    return services.add(
        actor=manager,
        target=T.PROJECT,
        target_id=project.pk,
        kind=Artefact.Kind.USER_MANUAL,
        title=kw.pop("title", "User manual"),
        language=kw.pop("language", "en"),
        upload=kw.pop("upload", _pdf()),
        publish=publish,
        **kw,
    )


def test_versions_are_kept_and_the_customer_gets_the_published_latest(
    alpha_project, manager, client_for, coordinator
):
    manual = _manual(manager, alpha_project)
    services.add_version(
        actor=manager, artefact=manual, upload=_pdf("manual-v2.pdf"), note="New screens"
    )
    assert list(manual.versions.values_list("number", flat=True)) == [2, 1]
    page = client_for(coordinator).get(reverse("artefacts_portal:list")).content.decode()
    latest = manual.versions.get(number=2)
    assert reverse("artefact_files:download", args=[latest.pk]) in page
    assert "New screens" in page
    download = client_for(coordinator).get(reverse("artefact_files:download", args=[latest.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF
    assert download["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_an_unpublished_document_stays_internal(alpha_project, manager, client_for, coordinator):
    draft = _manual(manager, alpha_project, publish=False, title="Draft test plan")
    version = draft.versions.get()
    assert (
        "Draft test plan"
        not in client_for(coordinator).get(reverse("artefacts_portal:list")).content.decode()
    )
    assert (
        client_for(coordinator)
        .get(reverse("artefact_files:download", args=[version.pk]))
        .status_code
        == 404
    )
    services.set_published(actor=manager, artefact=draft, published=True)
    response = client_for(coordinator).get(reverse("artefact_files:download", args=[version.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF


def test_another_organisations_documents_are_never_seen(
    alpha_project, beta_project, manager, client_for, outsider
):
    manual = _manual(manager, alpha_project, title="Alpha secret manual")
    version = manual.versions.get()
    client = client_for(outsider)
    assert (
        "Alpha secret manual" not in client.get(reverse("artefacts_portal:list")).content.decode()
    )
    assert client.get(reverse("artefact_files:download", args=[version.pk])).status_code == 404


def test_a_restricted_agent_sees_and_changes_only_their_customers_documents(
    alpha_project, beta_project, manager, client_for, org
):
    beta_manual = _manual(manager, beta_project, title="Beta manual")
    agent = staff(Role.CONSULTANT, username="restricted")
    AgentRestriction.objects.create(user=agent, organisation=org)
    client = client_for(agent)
    assert (
        client.get(reverse("artefacts:target", args=["project", beta_project.pk])).status_code
        == 404
    )
    assert (
        client.get(
            reverse("artefact_files:download", args=[beta_manual.versions.get().pk])
        ).status_code
        == 404
    )
    with pytest.raises(PermissionDenied):
        services.set_published(actor=agent, artefact=beta_manual, published=False)
    refused = client.post(
        reverse("artefacts:target", args=["project", beta_project.pk]),
        {"action": "unpublish", "artefact": beta_manual.pk},
    )
    assert refused.status_code == 404
    beta_manual.refresh_from_db()
    assert beta_manual.is_published
    assert (
        client.get(reverse("artefacts:target", args=["project", alpha_project.pk])).status_code
        == 200
    )


def test_release_documents_reach_only_customers_who_run_the_product(
    org, other_org, manager, client_for, coordinator, outsider
):
    land = landscape(org)
    landscape(other_org, product_name="Other CRM")
    video = services.add(
        actor=staff(Role.ADMIN, username="admin"),
        target=T.RELEASE,
        target_id=land["r113"].pk,
        kind=Artefact.Kind.VIDEO,
        title="What is new in 11.3",
        language="en",
        url="https://videos.example/11-3",
        publish=True,
    )
    assert video.organisation_id is None
    assert (
        "What is new in 11.3"
        in client_for(coordinator).get(reverse("artefacts_portal:list")).content.decode()
    )
    assert (
        "What is new in 11.3"
        not in client_for(outsider).get(reverse("artefacts_portal:list")).content.decode()
    )
    # The catalogue is changed by agents who serve every customer.
    agent = staff(Role.MANAGER, username="restricted-manager")
    AgentRestriction.objects.create(user=agent, organisation=org)
    with pytest.raises(PermissionDenied):
        services.add_version(actor=agent, artefact=video, url="https://videos.example/v2")


def test_documents_of_stages_and_migrations(alpha_project, manager, org, client_for, coordinator):
    stage = alpha_project.stages.order_by("position").first()
    services.add(
        actor=manager,
        target=T.STAGE,
        target_id=stage.pk,
        kind=Artefact.Kind.TEST_PROCEDURE,
        title="Test-session procedure",
        language="ro",
        upload=_pdf("procedura.pdf"),
        publish=True,
    )
    migration = shallow(org)[0]
    services.add(
        actor=manager,
        target=T.MIGRATION,
        target_id=migration.pk,
        kind=Artefact.Kind.TEST_PLAN,
        title="Acceptance test plan",
        language="en",
        upload=_pdf("plan.pdf"),
        publish=True,
    )
    page = client_for(coordinator).get(reverse("artefacts_portal:list")).content.decode()
    assert "Test-session procedure" in page and "Acceptance test plan" in page


def test_bad_input_is_refused_with_a_reason_and_nothing_is_kept(alpha_project, manager):
    with pytest.raises(ValidationError, match="Attach a file or give a link"):
        _manual(manager, alpha_project, upload=None)
    with pytest.raises(ValidationError, match="not a real PDF"):
        _manual(manager, alpha_project, upload=SimpleUploadedFile("x.pdf", b"<html>"))
    with pytest.raises(ValidationError, match="looks like a program"):
        _manual(manager, alpha_project, upload=SimpleUploadedFile("x.txt", b"MZ\x90\x00"))
    with pytest.raises(ValidationError, match="title"):
        _manual(manager, alpha_project, title="  ")
    assert not Artefact.objects.exists() and not ArtefactVersion.objects.exists()


@pytest.mark.parametrize("who", ["owner", "coordinator", "operator", "developer"])
def test_who_may_not_add_documents(request, alpha_project, who):
    user = request.getfixturevalue(who)
    with pytest.raises(PermissionDenied):
        _manual(user, alpha_project)


def test_a_customer_cannot_open_the_staff_page(alpha_project, client_for, coordinator):
    url = reverse("artefacts:target", args=["project", alpha_project.pk])
    assert client_for(coordinator).get(url).status_code == 403


def test_the_staff_page_adds_a_document(alpha_project, manager, client_for):
    url = reverse("artefacts:target", args=["project", alpha_project.pk])
    client = client_for(manager)
    response = client.post(
        url,
        {
            "action": "add",
            "title": "Manuel utilisateur",
            "kind": "user_manual",
            "language": "fr",
            "file": _pdf("manuel.pdf"),
            "publish": "on",
        },
    )
    assert response.status_code == 302
    manual = Artefact.objects.get()
    assert manual.language == "fr" and manual.is_published
    assert "Manuel utilisateur" in client.get(url).content.decode()
    empty = client.post(url, {"action": "add", "title": "x", "kind": "other", "language": "en"})
    assert empty.status_code == 400
    assert "Attach a file or give a link." in empty.content.decode()


def test_writes_are_refused_in_maintenance(alpha_project, manager):
    maintenance.switch(True, message="Upgrade", by="test")
    try:
        with pytest.raises(maintenance.MaintenanceError):
            _manual(manager, alpha_project)
    finally:
        maintenance.switch(False, by="test")
    assert not Artefact.objects.exists()


def test_a_member_of_two_organisations_sees_both(
    alpha_project, beta_project, manager, org, other_org, client_for
):
    both = customer(org, username="both")
    from aftercare.tenancy.models import Membership

    Membership.objects.create(user=both, organisation=other_org, role=Role.CUSTOMER)
    _manual(manager, alpha_project, title="Alpha manual")
    _manual(manager, beta_project, title="Beta manual")
    page = client_for(both).get(reverse("artefacts_portal:list")).content.decode()
    assert "Alpha manual" in page and "Beta manual" in page
