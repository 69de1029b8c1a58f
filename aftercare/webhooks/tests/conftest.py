"""Fixtures for the webhook tests: a real receiver, subscriptions, a controllable DNS."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from aftercare.webhooks import targets
from aftercare.webhooks.models import EventName, Subscription
from aftercare.webhooks.tests.receiver import Receiver

ALL_EVENTS = list(EventName.values)


@pytest.fixture
def receiver(settings):
    """A receiver on 127.0.0.1 that the SSRF guard lets through (ALLOW_PRIVATE on)."""
    server = Receiver()
    settings.AFTERCARE_WEBHOOKS_ALLOW_PRIVATE = True
    settings.AFTERCARE_WEBHOOKS_ALLOW_HTTP = True
    settings.AFTERCARE_WEBHOOKS_PORTS = [80, 443, server.port]
    server.start()
    try:
        yield server
    finally:
        server.stop()


def subscribe(url: str, organisation=None, events=None, **kwargs) -> Subscription:
    """A subscription written directly (the save-time check has its own tests)."""
    return Subscription.objects.create(
        name=kwargs.pop("name", "hook"),
        organisation=organisation,
        target_url=url,
        events=ALL_EVENTS if events is None else events,
        **kwargs,
    )


class FakeDns:
    """``targets.resolve`` answering from a table: name -> list of IP strings.

    Other ``*.example.test`` names do not resolve; IP literals and ``localhost`` go to
    the real resolver (no network involved).
    """

    def __init__(self, real) -> None:
        self.table: dict[str, list[str]] = {}
        self.real = real

    def __call__(self, host: str, port: int) -> list[targets.Address]:
        if host not in self.table:
            if host.endswith(".example.test"):
                raise targets.Unresolvable(f"{host} does not resolve")
            return self.real(host, port)
        found = []
        for text in self.table[host]:
            ip = ipaddress.ip_address(text)
            family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
            sockaddr = (text, port) if ip.version == 4 else (text, port, 0, 0)
            found.append(targets.Address(family, sockaddr, ip))
        return found


@pytest.fixture
def dns(monkeypatch):
    fake = FakeDns(targets.resolve)
    monkeypatch.setattr(targets, "resolve", fake)
    return fake
