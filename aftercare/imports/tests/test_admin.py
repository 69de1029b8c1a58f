import pytest
from django.urls import reverse

from aftercare.imports.models import ImportedRecord

pytestmark = pytest.mark.django_db


def test_administrators_can_look_up_and_correct_member_mappings(org, owner, client_for):
    from aftercare.tenancy.tests.factories import UserFactory

    admin_user = UserFactory(is_staff=True, is_superuser=True)
    record = ImportedRecord.objects.create(
        organisation=org, source="trello", kind="user", external_id="m1", name="ivan", user=owner
    )
    client = client_for(admin_user)
    listing = client.get(reverse("admin:imports_importedrecord_changelist") + "?q=ivan")
    assert listing.status_code == 200 and b"m1" in listing.content
    page = client.get(reverse("admin:imports_importedrecord_change", args=[record.pk]))
    assert page.status_code == 200
