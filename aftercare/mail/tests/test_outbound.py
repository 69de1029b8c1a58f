"""Notifications: who gets what, in which language, threaded, delivered to a real SMTP server."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from aftercare.desk import services
from aftercare.desk.models import Status
from aftercare.desk.tests.factories import ticket_for
from aftercare.mail.models import OutboundMail
from aftercare.mail.outbound import send_due, thread_root

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(owner):
    owner.email = "ana@alpha.example"
    owner.language = "ro"
    owner.save()
    return owner


def kinds(ticket, user=None):
    rows = OutboundMail.objects.filter(ticket=ticket).order_by("pk")
    if user is not None:
        rows = rows.filter(recipient=user)
    return [r.kind for r in rows]


def test_the_customer_is_told_in_their_language(customer, org):
    ticket = ticket_for(customer, org)
    mail = OutboundMail.objects.get(ticket=ticket, kind="received")
    assert mail.language == "ro"
    assert mail.subject.startswith(f"[{ticket.number}] Solicitare înregistrată")
    assert "Bună ziua" in mail.body_text or "Bună" in mail.body_text
    assert ticket.number in mail.body_text


@pytest.mark.parametrize("language", ["en", "fr", "uk", "ru"])
def test_every_language_has_its_template(customer, org, language):
    customer.language = language
    customer.save()
    ticket = ticket_for(customer, org)
    mail = OutboundMail.objects.get(ticket=ticket, kind="received")
    expected = {
        "en": "Request received",
        "fr": "Demande reçue",
        "uk": "Запит отримано",
        "ru": "Запрос получен",
    }[language]
    assert expected in mail.subject


def test_agent_reply_status_changes_and_resolution_reach_the_customer(customer, org, consultant):
    ticket = ticket_for(customer, org)
    services.reply(ticket=ticket, actor=consultant, body="Please send the export.")
    services.transition(ticket=ticket, actor=consultant, target=Status.WAITING)
    reply = OutboundMail.objects.get(ticket=ticket, kind="reply")
    assert "Please send the export." in reply.body_text
    assert kinds(ticket, customer) == ["received", "reply", "waiting"]
    # Internal notes never reach the customer.
    services.reply(ticket=ticket, actor=consultant, body="secret", internal=True)
    assert not OutboundMail.objects.filter(body_text__contains="secret").exists()


def test_agents_are_told_of_assignment_escalation_and_customer_replies(
    customer, org, operator, consultant
):
    consultant.email = "c@vendor.example"
    consultant.save()
    ticket = ticket_for(customer, org)
    services.escalate(ticket=ticket, actor=operator, assignee=consultant, note="needs L2")
    services.reply(ticket=ticket, actor=customer, body="Any news?")
    # Escalated to them by name: told once, of the escalation (not also of the assignment).
    assert kinds(ticket, consultant) == ["escalated", "customer_reply"]
    services.assign(ticket=ticket, actor=operator, assignee=None)
    services.assign(ticket=ticket, actor=operator, assignee=consultant)
    assert kinds(ticket, consultant) == ["escalated", "customer_reply", "assigned"]


def test_opting_out_stops_optional_mail_but_not_replies(customer, org, consultant):
    customer.optional_mail = False
    customer.save()
    ticket = ticket_for(customer, org)
    services.transition(ticket=ticket, actor=consultant, target=Status.SPRINT)
    services.reply(ticket=ticket, actor=consultant, body="We are on it.")
    status = OutboundMail.objects.get(ticket=ticket, kind="status")
    assert status.state == OutboundMail.State.SUPPRESSED and "opted out" in status.last_error
    assert OutboundMail.objects.get(ticket=ticket, kind="reply").state == "queued"


def test_no_mail_to_the_person_who_made_the_change(customer, org):
    ticket = ticket_for(customer, org)
    services.reply(ticket=ticket, actor=customer, body="added info")
    assert kinds(ticket, customer) == ["received"]


def test_sent_mail_arrives_threaded_with_loop_headers(
    customer, org, consultant, smtp_sink, settings
):
    ticket = ticket_for(customer, org)
    services.reply(ticket=ticket, actor=consultant, body="Fixed in the test environment.")
    counts = send_due()
    assert counts["sent"] == 2
    received = smtp_sink.wait_for(2)
    assert [r.recipients for r in received] == [["ana@alpha.example"]] * 2
    message = received[1].message
    # Django folds a long encoded subject onto a continuation line; readers unfold it.
    assert str(message["Subject"]).strip().startswith(f"[{ticket.number}]")
    assert message["In-Reply-To"] == thread_root(ticket)
    assert thread_root(ticket) in message["References"]
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Aftercare-Loop"] == settings.AFTERCARE_MAIL_DOMAIN
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "Fixed in the test environment." in body
    assert message.get_body(preferencelist=("html",)) is not None
    rows = OutboundMail.objects.filter(ticket=ticket)
    assert all(r.state == "sent" and r.sent_at for r in rows)
    assert {r.message_id for r in rows} == {m.message["Message-ID"] for m in received}
    assert send_due()["sent"] == 0  # nothing twice


def test_a_temporary_smtp_failure_is_retried_with_back_off(customer, org, smtp_sink, settings):
    from django.utils import timezone

    settings.AFTERCARE_MAIL_SEND_ATTEMPTS = 2
    smtp_sink.fail_next = 1
    ticket = ticket_for(customer, org)
    assert send_due()["retry"] == 1
    row = OutboundMail.objects.get(ticket=ticket)
    assert row.state == "queued" and row.attempts == 1 and "451" in row.last_error
    assert row.not_before > timezone.now()
    OutboundMail.objects.filter(pk=row.pk).update(not_before=timezone.now())
    assert send_due()["sent"] == 1
    assert len(smtp_sink.wait_for(1)) == 1


def test_after_the_last_attempt_the_mail_is_failed_and_can_be_retried(
    customer, org, smtp_sink, settings
):
    from aftercare.mail.outbound import retry

    settings.AFTERCARE_MAIL_SEND_ATTEMPTS = 1
    smtp_sink.fail_next = 1
    ticket = ticket_for(customer, org)
    assert send_due()["failed"] == 1
    row = OutboundMail.objects.get(ticket=ticket)
    assert row.state == "failed"
    retry(row)
    row.refresh_from_db()
    assert row.state == "queued"
    assert send_due()["sent"] == 1


def test_an_unreachable_server_is_retried_not_lost(customer, org, settings):
    from aftercare.mail.tests.servers import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    ticket = ticket_for(customer, org)
    assert send_due()["retry"] == 1
    assert OutboundMail.objects.get(ticket=ticket).state == "queued"


@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_at_once_send_each_mail_once(customer, org, smtp_sink, monkeypatch):
    if connection.vendor == "sqlite":
        pytest.skip("needs concurrent writers: PostgreSQL (the SQLite case is serialised)")
    from aftercare.mail import outbound

    monkeypatch.setattr(outbound, "_kick", lambda: None)  # leave the sending to the workers
    for i in range(20):
        ticket_for(customer, org, subject=f"request {i}")
    barrier = threading.Barrier(2)
    results = []

    def worker():
        from django.db import connection as conn

        barrier.wait()
        try:
            results.append(send_due())
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r["sent"] for r in results) == 20
    received = smtp_sink.wait_for(20)
    ids = [r.message["Message-ID"] for r in received]
    assert len(ids) == len(set(ids)) == 20


def test_sla_warnings_wait_for_the_agents_working_hours(customer, org, operator, time_machine):
    from aftercare.sla import services as sla
    from aftercare.sla.models import Notification, SlaClock

    operator.email = "op@vendor.example"
    operator.time_zone = "Europe/Bucharest"
    operator.save()
    # Friday 18:30 in Bucharest: the warning is written now, mailed on Monday 09:00.
    time_machine.move_to("2026-11-27T16:30:00Z")
    ticket = ticket_for(customer, org)
    clock = SlaClock.objects.filter(ticket=ticket).first()
    Notification.objects.create(user=operator, ticket=ticket, clock=clock, kind="warning")
    mail = OutboundMail.objects.get(kind="sla_warning", recipient=operator)
    assert mail.not_before.isoformat() == "2026-11-30T07:00:00+00:00"
    assert sla  # the engine module is importable beside the mail app


def test_the_daily_cap_of_automatic_answers_ignores_the_address_case_and_uses_its_index(
    customer, org, settings
):
    """However the address is written, it is one mailbox; and the count reads one day's
    mail to that address (``outbound_address_day``), not the whole outgoing table."""
    from django.test.utils import CaptureQueriesContext

    from aftercare.mail import outbound

    ticket = ticket_for(customer, org)  # its receipt is the first automatic answer
    assert OutboundMail.objects.filter(kind="received", to_address=customer.email).count() == 1
    settings.AFTERCARE_MAIL_AUTOREPLY_DAILY_CAP = 3
    states = []
    for n, address in enumerate(["ana@alpha.example", "Ana@Alpha.example", "ANA@ALPHA.EXAMPLE"]):
        row = outbound.queue(
            "received", key=f"cap-test:{n}", ticket=ticket, user=None, address=address
        )
        states.append(row.state)
    assert states == ["queued", "queued", "suppressed"]

    with CaptureQueriesContext(connection) as queries:
        outbound.queue("received", key="cap-test:plan", ticket=ticket, address="ana@alpha.example")
    count = next(
        q["sql"] for q in queries if "mail_outboundmail" in q["sql"] and "LOWER" in q["sql"]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN " + ("QUERY PLAN " if connection.vendor == "sqlite" else "") + count
        )
        plan = " ".join(str(part) for row in cursor.fetchall() for part in row)
    if connection.vendor == "sqlite":
        assert "outbound_address_day" in plan, plan
    else:  # a tiny table may be scanned whatever the indexes; the expression must match one
        cursor_sql = count.lower()
        assert 'lower("mail_outboundmail"."to_address")' in cursor_sql
