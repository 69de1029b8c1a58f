"""The SSRF guard and the URL rules, as checked when a subscription is saved."""

from __future__ import annotations

import ipaddress

import pytest
from django.core.exceptions import ValidationError

from aftercare.webhooks import targets
from aftercare.webhooks.models import Subscription

pytestmark = pytest.mark.django_db


def subscription(url: str, **kwargs) -> Subscription:
    return Subscription(name="hook", target_url=url, events=["ticket.created"], **kwargs)


def refusal(url: str) -> str:
    with pytest.raises(ValidationError) as info:
        subscription(url).full_clean()
    return " ".join(info.value.message_dict["target_url"])


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://127.0.0.1/hook", "loopback"),
        ("https://127.8.9.10/hook", "loopback"),
        ("https://10.1.2.3/hook", "private"),
        ("https://172.16.0.1/hook", "private"),
        ("https://192.168.1.1/hook", "private"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://[::1]/hook", "loopback"),
        ("https://[::ffff:127.0.0.1]/hook", "loopback"),
        ("https://[::ffff:169.254.169.254]/hook", "link-local"),
        ("https://[fd00:ec2::254]/hook", "private"),
        ("https://[fe80::1]/hook", "link-local"),
        ("https://[2002:7f00:1::]/hook", "loopback"),  # 6to4 wrapping 127.0.0.1
        ("https://[64:ff9b::a00:1]/hook", "private"),  # NAT64 wrapping 10.0.0.1
        ("https://100.64.0.1/hook", "carrier-grade NAT"),
        ("https://0.0.0.0/hook", "unspecified"),
        ("https://[::]/hook", "unspecified"),
        ("https://224.0.0.1/hook", "multicast"),
        ("https://240.0.0.1/hook", "reserved"),
        ("https://localhost/hook", "loopback"),  # a name: its resolved addresses count
    ],
)
def test_internal_targets_are_refused_when_saved(url, kind):
    message = refusal(url)
    assert kind in message
    assert "public internet" in message


@pytest.mark.parametrize("url", ["https://2130706433/hook", "https://0x7f.0.0.1/hook"])
def test_numeric_tricks_for_loopback_are_refused(url):
    # Resolved by getaddrinfo like any name, so the address check sees 127.0.0.1 (or,
    # where the resolver rejects the form, the name does not resolve): refused either way.
    assert refusal(url)


def test_a_name_resolving_to_a_private_address_is_refused(dns):
    dns.table["intranet.example.test"] = ["10.0.0.5"]
    assert "10.0.0.5, a private address" in refusal("https://intranet.example.test/hook")


def test_one_private_address_among_public_ones_is_enough_to_refuse(dns):
    dns.table["mixed.example.test"] = ["93.184.215.14", "2606:2800:21f:cb07::1", "127.0.0.1"]
    assert "loopback" in refusal("https://mixed.example.test/hook")


def test_a_public_https_target_is_accepted(dns):
    dns.table["hooks.example.test"] = ["93.184.215.14", "2606:2800:21f:cb07::1"]
    subscription("https://hooks.example.test/aftercare?team=ops").full_clean()


def test_a_name_that_does_not_resolve_is_refused(dns):
    assert "does not resolve" in refusal("https://nowhere.example.test/")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ftp://hooks.example.test/x", "Only https://"),
        ("file:///etc/passwd", "Only https://"),
        ("gopher://hooks.example.test/", "Only https://"),
        ("http://hooks.example.test/x", "Plain http://"),
        ("https://user:secret@hooks.example.test/x", "Credentials"),
        ("https://token@hooks.example.test/x", "Credentials"),
        ("https://hooks.example.test:8443/x", "Port 8443 is not allowed"),
        ("https://hooks.example.test:25/x", "Port 25 is not allowed"),
        ("https://hooks.example.test:99999/x", "not a valid URL"),
        ("https://hooks.example.test/a b", "spaces"),
        ("https:///x", "no host"),
    ],
)
def test_url_rules(dns, url, expected):
    dns.table["hooks.example.test"] = ["93.184.215.14"]
    assert expected in refusal(url)


def test_settings_allow_http_and_other_ports(dns, settings):
    dns.table["hooks.example.test"] = ["93.184.215.14"]
    settings.AFTERCARE_WEBHOOKS_ALLOW_HTTP = True
    settings.AFTERCARE_WEBHOOKS_PORTS = [80, 443, 8443]
    subscription("http://hooks.example.test/x").full_clean()
    subscription("https://hooks.example.test:8443/x").full_clean()


def test_allow_private_lets_loopback_through_but_never_unspecified(settings):
    settings.AFTERCARE_WEBHOOKS_ALLOW_PRIVATE = True
    subscription("https://127.0.0.1/hook").full_clean()
    subscription("https://10.1.2.3/hook").full_clean()
    assert "unspecified" in refusal("https://0.0.0.0/hook")


def test_events_must_be_known_and_not_empty(dns):
    dns.table["hooks.example.test"] = ["93.184.215.14"]
    for events, message in (([], "at least one"), (["desk.note.added"], "Unknown events")):
        row = Subscription(name="x", target_url="https://hooks.example.test/", events=events)
        with pytest.raises(ValidationError) as info:
            row.full_clean()
        assert message in " ".join(info.value.message_dict["events"])


def test_secrets_are_generated_and_distinct():
    a, b = subscription("https://x.example.test/"), subscription("https://x.example.test/")
    assert a.secret.startswith("whsec_") and len(a.secret) > 40
    assert a.secret != b.secret


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("8.8.8.8", ""),
        ("2001:4860:4860::8888", ""),
        ("127.0.0.1", "loopback"),
        ("10.255.255.255", "private"),
        ("172.31.0.1", "private"),
        ("192.168.0.1", "private"),
        ("169.254.0.1", "link-local"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("fc00::1", "private"),
        ("fe80::abcd", "link-local"),
        ("ff02::1", "multicast"),
        ("::", "unspecified"),
        ("192.0.2.1", "private"),  # documentation range (TEST-NET-1)
        ("198.18.0.1", "private"),  # benchmarking
        ("2001:db8::1", "private"),  # documentation
    ],
)
def test_address_classes(address, kind):
    assert targets.blocked_kind(ipaddress.ip_address(address)) == kind
