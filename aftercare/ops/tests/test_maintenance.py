"""Read-only maintenance mode: writes refused everywhere, reading and signing in still work."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from imap_tools import AND

from aftercare.desk import services
from aftercare.desk.models import Status, Ticket
from aftercare.desk.tests.factories import PNG, ticket_for
from aftercare.mail.models import InboundMessage, Mailbox, OutboundMail
from aftercare.mail.tasks import run_fetch, run_outbox
from aftercare.mail.tests.factories import make_mail
from aftercare.ops import maintenance
from aftercare.ops.models import MaintenanceFlag
from aftercare.sla.models import Notification, SlaClock
from aftercare.sla.tasks import run_archive, run_sla_check
from conftest import database_url

ROOT = Path(__file__).resolve().parents[3]
BANNER = "Read-only maintenance mode."


def _new_request(client, org):
    return client.post(
        reverse("portal:new"),
        {
            "organisation": org.pk,
            "subject": "Printer on fire",
            "description": "It is on fire.",
            "category": "incident",
            "priority": 3,
        },
    )


def test_every_page_shows_the_banner_only_while_maintenance_is_on(client_for, owner, operator):
    page = client_for(owner).get(reverse("portal:list"))
    assert page.status_code == 200
    assert BANNER not in page.content.decode()
    maintenance.switch(True, message="Back at 06:00 UTC.")
    for user, name in ((owner, "portal:list"), (operator, "console:queue")):
        page = client_for(user).get(reverse(name))
        assert page.status_code == 200
        body = page.content.decode()
        assert BANNER in body
        assert "Back at 06:00 UTC." in body


def test_a_form_post_is_refused_with_a_friendly_page(client_for, owner, org, maintenance_on):
    response = _new_request(client_for(owner), org)
    assert response.status_code == 503
    assert response["Retry-After"] == "300"
    body = response.content.decode()
    assert BANNER in body
    assert "your change was not saved" in body
    assert not Ticket.objects.exists()


def test_a_form_post_works_again_after_maintenance(client_for, owner, org, maintenance_on):
    maintenance.switch(False)
    response = _new_request(client_for(owner), org)
    assert response.status_code == 302
    assert Ticket.objects.count() == 1


def test_the_api_answers_503_with_retry_after(owner, org, maintenance_on):
    from aftercare.api.tests.conftest import ApiClient
    from aftercare.api.tokens import issue

    maintenance.switch(False)
    _token, secret = issue(user=owner, name="tests")
    maintenance.switch(True, message="Back at 06:00 UTC.")
    api = ApiClient(secret)
    response = api.post_json(
        "/api/v1/tickets",
        {"subject": "Down", "description": "All down.", "category": "incident"},
    )
    assert response.status_code == 503
    assert response["Retry-After"] == "300"
    payload = response.json()
    assert payload["code"] == "maintenance"
    assert "maintenance" in payload["message"]
    assert "Back at 06:00 UTC." in payload["message"]
    assert not Ticket.objects.exists()
    # Reading keeps working.
    assert api.get("/api/v1/tickets").status_code == 200


def test_a_transition_is_refused_in_the_service(ticket, operator):
    maintenance.switch(True)
    with pytest.raises(maintenance.MaintenanceError, match="read-only maintenance mode"):
        services.transition(ticket=ticket, actor=operator, target=Status.SPRINT)
    ticket.refresh_from_db()
    assert ticket.status == Status.BACKLOG
    with pytest.raises(maintenance.MaintenanceError):
        services.reply(ticket=ticket, actor=operator, body="Looking", internal=True)
    maintenance.switch(False)
    services.transition(ticket=ticket, actor=operator, target=Status.SPRINT)
    ticket.refresh_from_db()
    assert ticket.status == Status.SPRINT


def test_downloads_keep_working(client_for, owner, org):
    upload = SimpleUploadedFile("shot.png", PNG, content_type="image/png")
    ticket = ticket_for(owner, org, attachments=[upload])
    attachment = ticket.attachments.get()
    maintenance.switch(True)
    response = client_for(owner).get(reverse("desk:attachment", args=[attachment.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    page = client_for(owner).get(reverse("portal:detail", args=[ticket.number]))
    assert page.status_code == 200


def test_sign_in_sign_out_and_language_switch_work(owner, maintenance_on):
    owner.set_password("correct horse battery staple")
    owner.save()
    maintenance.forget()
    client = Client()
    response = client.post(
        reverse("accounts:login"),
        {"username": owner.username, "password": "correct horse battery staple"},
    )
    assert response.status_code == 302
    assert "_auth_user_id" in client.session
    response = client.post(reverse("accounts:language"), {"language": "fr", "next": "/"})
    assert response.status_code == 302
    assert client.post(reverse("accounts:logout")).status_code == 302
    assert "_auth_user_id" not in client.session


def test_admins_switch_it_off_in_the_admin(db):
    from aftercare.accounts.models import User

    admin = User.objects.create_superuser("root", "root@example.test", "pw-123456-long")
    client = Client()
    client.force_login(admin)
    maintenance.switch(True, message="Upgrade")
    url = reverse("admin:ops_maintenanceflag_change", args=[1])
    assert client.get(url).status_code == 200
    response = client.post(url, {"message": "done"})  # the box unticked: off
    assert response.status_code == 302
    flag = MaintenanceFlag.objects.get()
    assert not flag.is_on and flag.changed_by == "root"
    assert not maintenance.is_on()
    # Other admin changes are refused while it is on.
    maintenance.switch(True)
    response = client.post(reverse("admin:tenancy_organisation_add"), {"name": "X"})
    assert response.status_code == 503


def test_the_command_switches_and_reports(db, capsys):
    call_command("maintenance", "on", "--message", "Moving to PostgreSQL")
    assert maintenance.state(fresh=True).on
    call_command("maintenance", "status")
    assert "Maintenance mode: on — Moving to PostgreSQL" in capsys.readouterr().out
    call_command("maintenance", "off")
    assert not maintenance.is_on()
    assert "Maintenance mode: off" in capsys.readouterr().out


def test_processes_see_a_switch_within_the_cache_period(db, settings):
    settings.AFTERCARE_MAINTENANCE_CACHE_SECONDS = 3600
    assert not maintenance.is_on()
    MaintenanceFlag.objects.update_or_create(pk=1, defaults={"is_on": True})  # "another process"
    assert not maintenance.is_on()  # still cached
    settings.AFTERCARE_MAINTENANCE_CACHE_SECONDS = 0
    assert maintenance.is_on()


def test_the_sla_check_is_skipped_and_runs_after(ticket):
    past = timezone.now() - timedelta(days=3)
    SlaClock.objects.filter(ticket=ticket).update(
        started_at=past - timedelta(days=1), warn_at=past, deadline=past
    )
    maintenance.switch(True)
    assert run_sla_check() == {}
    assert not SlaClock.objects.filter(ticket=ticket, breached_at__isnull=False).exists()
    assert not Notification.objects.exists()
    maintenance.switch(False)
    assert run_sla_check()["breached"] >= 1
    assert SlaClock.objects.filter(ticket=ticket, breached_at__isnull=False).exists()


def test_archiving_and_sending_are_skipped(ticket, operator):
    queued = list(OutboundMail.objects.values_list("pk", "state", "sent_at"))
    maintenance.switch(True)
    assert run_archive() == []
    assert run_outbox() == {}
    assert list(OutboundMail.objects.values_list("pk", "state", "sent_at")) == queued
    with pytest.raises(CommandError, match="maintenance") as refused:
        call_command("archive_released")
    assert refused.value.returncode == maintenance.EXIT_MAINTENANCE


@pytest.fixture
def mailbox(dovecot, org, owner):
    owner.email = "ana@alpha.example"
    owner.save()
    return Mailbox.objects.create(
        name="support",
        address="support@example.test",
        host="127.0.0.1",
        port=dovecot.port,
        security=Mailbox.Security.NONE,
        username=dovecot.user,
        password=dovecot.password,
    )


def test_imap_mail_stays_unread_until_maintenance_ends(dovecot, mailbox):
    dovecot.append(make_mail(subject="during maintenance"))
    maintenance.switch(True)
    before = Mailbox.objects.values_list("last_fetch_at", "last_error").get()
    assert run_fetch() == {}
    with pytest.raises(CommandError, match="maintenance"):
        call_command("fetch_mail")
    with dovecot.client() as box:
        unread = box.uids(AND(seen=False))
        assert len(unread) == 1 and len(box.uids()) == 1
        flags = next(iter(box.fetch(mark_seen=False))).flags
        assert flags == ()
    assert not InboundMessage.objects.exists()
    assert Mailbox.objects.values_list("last_fetch_at", "last_error").get() == before
    maintenance.switch(False)
    run_fetch()
    assert Ticket.objects.get().subject == "during maintenance"
    with dovecot.client() as box:
        assert box.uids(AND(seen=False)) == []


@pytest.mark.django_db(transaction=True)
def test_the_mta_pipe_exits_75_so_the_mail_is_retried(owner):
    maintenance.switch(True)
    env = {**os.environ, "DATABASE_URL": database_url()}
    raw = make_mail(subject="piped during maintenance")
    done = subprocess.run(
        [sys.executable, "-m", "aftercare", "ingest-mail"],
        input=raw,
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 75, done.stderr
    assert b"maintenance" in done.stderr
    assert not InboundMessage.objects.exists()
    maintenance.switch(False)
    done = subprocess.run(
        [sys.executable, "-m", "aftercare", "ingest-mail"],
        input=raw,
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert InboundMessage.objects.count() == 1
