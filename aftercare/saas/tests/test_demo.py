import pytest

from aftercare.accounts.roles import Role
from aftercare.mail.models import OutboundMail
from aftercare.notifications.models import Notification
from aftercare.saas import demo
from aftercare.saas.models import LineKind, Migration, State
from aftercare.tenancy.tests.factories import OrganisationFactory, customer, staff

pytestmark = pytest.mark.django_db


def test_the_demo_has_a_lead_and_an_offer_the_coordinator_can_confirm():
    org = OrganisationFactory(
        code="carpathia",
        name="Carpathia Foods SRL",
        language="ro",
        mail_domains="carpathia.example",
    )
    coordinator = customer(org, role=Role.COORDINATOR)
    demo.load({Role.CONSULTANT: staff(Role.CONSULTANT)})
    lead, sent = Migration.objects.order_by("pk")
    assert lead.state == State.LEAD and lead.organisation is None
    assert sent.state == State.OFFER_SENT and sent.organisation == org
    from aftercare.saas import services

    offer = sent.current_offer()
    assert list(offer.items.values_list("kind", flat=True)).count(LineKind.LICENCE) == 1
    services.decide_offer(offer=offer, confirm=True, via="portal", user=coordinator)
    demo.load({})  # a second run adds nothing
    assert Migration.objects.count() == 2
    # The staff were told of both quote requests; the requesters got their receipts.
    assert Notification.objects.filter(kind="saas_quote").count() == 2
    assert OutboundMail.objects.filter(kind="saas_quote_received").count() == 2
    assert Notification.objects.filter(kind="saas_offer_confirmed", user=coordinator).exists()
