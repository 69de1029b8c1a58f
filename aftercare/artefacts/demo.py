"""Demo documents: a published user manual and an internal test plan on the first go-live
project, release notes and a video link on the latest ERP service pack."""

from __future__ import annotations

from django.core.files.base import ContentFile

from aftercare.accounts.roles import Role
from aftercare.artefacts import services
from aftercare.artefacts.models import Artefact

MANUAL = """# Warehouse module — user manual

1. Sign in with the account you received from the project team.
2. Open *Stock → Receipts* and scan the delivery note.
3. Check the quantities; differences go to the snag list.
"""

TEST_PLAN = """Test session 1 — goods receipt and invoicing
- receipts with and without purchase orders
- invoice posting in an open and a closed period
- stock valuation report after both
"""


def _file(name: str, text: str) -> ContentFile:
    upload = ContentFile(text.encode(), name=name)
    upload.size = len(text.encode())
    return upload


def load(staff) -> None:
    from aftercare.lifecycle.models import Release
    from aftercare.projects.models import Project

    manager = staff[Role.MANAGER]
    admin = staff.get(Role.ADMIN) or manager
    project = Project.objects.order_by("pk").first()
    if project is not None:
        manual = services.add(
            actor=manager,
            target=Artefact.Target.PROJECT,
            target_id=project.pk,
            kind=Artefact.Kind.USER_MANUAL,
            title="Warehouse module — user manual",
            language="en",
            upload=_file("warehouse-manual.md", MANUAL),
            publish=True,
        )
        services.add_version(
            actor=manager,
            artefact=manual,
            upload=_file("warehouse-manual.md", MANUAL + "4. Print the receipt.\n"),
            note="Printing the receipt added",
        )
        services.add(
            actor=manager,
            target=Artefact.Target.PROJECT,
            target_id=project.pk,
            kind=Artefact.Kind.TEST_PLAN,
            title="Test session 1 — plan (draft)",
            language="en",
            upload=_file("test-session-1.txt", TEST_PLAN),
        )
    release = Release.objects.filter(product__name="Aftercare ERP", service_pack="SP1").first()
    if release is not None:
        services.add(
            actor=admin,
            target=Artefact.Target.RELEASE,
            target_id=release.pk,
            kind=Artefact.Kind.VIDEO,
            title="11.3 SP1 in five minutes",
            language="en",
            url="https://videos.example/aftercare-erp-11-3-sp1",
            publish=True,
        )
