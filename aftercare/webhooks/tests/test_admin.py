"""The admin as the management surface: the save-time check, ping, retry, re-enable, the log."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from aftercare.desk.tests.factories import ticket_for
from aftercare.webhooks.delivery import deliver_due
from aftercare.webhooks.models import Delivery, Subscription
from aftercare.webhooks.tests.conftest import subscribe
from aftercare.webhooks.tests.receiver import Answer

pytestmark = pytest.mark.django_db

ADD = "admin:webhooks_subscription_add"


def form(url: str, **extra) -> dict:
    return {
        "name": "ERP bridge",
        "organisation": "",
        "target_url": url,
        "events": ["ticket.created", "comment.created"],
        "active": "on",
        **extra,
    }


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://169.254.169.254/latest/meta-data/", "a link-local address"),
        ("https://127.0.0.1/hook", "a loopback address"),
        ("https://10.0.0.8/hook", "a private address"),
        ("https://[::1]/hook", "a loopback address"),
        ("https://localhost/hook", "a loopback address"),
        ("http://hooks.example.test/hook", "Plain http://"),
        ("https://me:pw@hooks.example.test/hook", "Credentials in the URL"),
    ],
)
def test_the_admin_refuses_internal_targets_with_a_clear_error(admin_client, dns, url, message):
    dns.table["hooks.example.test"] = ["93.184.215.14"]
    response = admin_client.post(reverse(ADD), form(url))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Subscription.objects.exists()


def test_the_admin_saves_a_public_target_and_shows_the_secret(admin_client, dns, org):
    dns.table["hooks.example.test"] = ["93.184.215.14"]
    response = admin_client.post(
        reverse(ADD), form("https://hooks.example.test/hook", organisation=org.pk)
    )
    assert response.status_code == 302
    hook = Subscription.objects.get()
    assert hook.organisation == org
    assert hook.events == ["ticket.created", "comment.created"]
    page = admin_client.get(reverse("admin:webhooks_subscription_change", args=[hook.pk]))
    assert hook.secret in page.content.decode()


def test_the_ping_action_sends_a_signed_test_delivery(admin_client, receiver):
    hook = subscribe(receiver.url())
    response = admin_client.post(
        reverse("admin:webhooks_subscription_changelist"),
        {"action": "send_ping", ACTION_CHECKBOX_NAME: [hook.pk]},
    )
    assert response.status_code == 302
    assert Delivery.objects.get().event == "ping"
    assert deliver_due()["delivered"] == 1
    assert receiver.requests[0].headers["X-Aftercare-Event"] == "ping"


def test_failed_deliveries_can_be_retried_from_the_log(
    admin_client, receiver, owner, org, settings
):
    settings.AFTERCARE_WEBHOOKS_ATTEMPTS = 1
    receiver.answer(Answer(500))
    subscribe(receiver.url())
    ticket_for(owner, org)
    deliver_due()
    failed = Delivery.objects.get()
    assert failed.state == "failed"
    log = admin_client.get(reverse("admin:webhooks_delivery_changelist") + "?state__exact=failed")
    assert log.status_code == 200 and str(failed.ticket.number) in log.content.decode()
    response = admin_client.post(
        reverse("admin:webhooks_delivery_changelist"),
        {"action": "retry", ACTION_CHECKBOX_NAME: [failed.pk]},
    )
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.state == "queued" and failed.attempts == 0
    assert deliver_due()["delivered"] == 1


def test_a_disabled_subscription_can_be_re_enabled(admin_client, receiver):
    hook = subscribe(receiver.url(), active=False, failure_count=10)
    Subscription.objects.filter(pk=hook.pk).update(disabled_reason="Disabled automatically")
    listing = admin_client.get(reverse("admin:webhooks_subscription_changelist"))
    assert "All organisations" in listing.content.decode()
    admin_client.post(
        reverse("admin:webhooks_subscription_changelist"),
        {"action": "re_enable", ACTION_CHECKBOX_NAME: [hook.pk]},
    )
    hook.refresh_from_db()
    assert hook.active and hook.failure_count == 0 and hook.disabled_reason == ""


def test_the_secret_can_be_rotated(admin_client, receiver):
    hook = subscribe(receiver.url())
    old = hook.secret
    admin_client.post(
        reverse("admin:webhooks_subscription_changelist"),
        {"action": "rotate_secret", ACTION_CHECKBOX_NAME: [hook.pk]},
    )
    hook.refresh_from_db()
    assert hook.secret != old and hook.secret.startswith("whsec_")


def test_the_delivery_log_is_read_only(admin_client, receiver, owner, org):
    subscribe(receiver.url())
    ticket_for(owner, org)
    row = Delivery.objects.get()
    page = admin_client.get(reverse("admin:webhooks_delivery_change", args=[row.pk]))
    assert page.status_code == 200
    content = page.content.decode()
    assert 'name="_save"' not in content
    assert "&quot;event&quot;: &quot;ticket.created&quot;" in content  # the payload, pretty
    assert admin_client.get(reverse("admin:webhooks_delivery_add")).status_code == 403
    posted = admin_client.post(
        reverse("admin:webhooks_delivery_change", args=[row.pk]), {"state": "delivered"}
    )
    assert posted.status_code == 403
    row.refresh_from_db()
    assert row.state == "queued"


def test_staff_without_admin_rights_cannot_reach_webhooks(client_for, operator, receiver):
    hook = subscribe(receiver.url())
    client = client_for(operator)
    for name, args in (
        ("admin:webhooks_subscription_changelist", []),
        ("admin:webhooks_subscription_change", [hook.pk]),
        ("admin:webhooks_delivery_changelist", []),
    ):
        response = client.get(reverse(name, args=args))
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
