"""The worker's side: the periodic job is registered, and its command runs it once."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from aftercare.desk.tests.factories import ticket_for
from aftercare.webhooks.models import Delivery
from aftercare.webhooks.tests.conftest import subscribe

pytestmark = pytest.mark.django_db


def test_the_periodic_job_is_registered(settings):
    from aftercare.webhooks import tasks

    names = {t.name.rsplit(".", 1)[-1] for t in settings.HUEY._registry.periodic_tasks}
    assert "webhooks_periodic" in names
    assert tasks.webhooks_periodic.task_class.validate_datetime is not None


def test_the_command_delivers_what_is_due(receiver, owner, org, capsys):
    subscribe(receiver.url())
    ticket_for(owner, org)
    call_command("webhooks_deliver")
    assert "delivered: 1" in capsys.readouterr().out
    assert Delivery.objects.get().state == "delivered"
    assert len(receiver.requests) == 1
