"""Failed jobs are recorded; administrators see every kind of failure and retry it."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from aftercare.accounts.roles import Role
from aftercare.desk.models import Ticket
from aftercare.mail.ingest import ingest
from aftercare.mail.models import InboundMessage, OutboundMail
from aftercare.mail.tests.factories import make_mail
from aftercare.monitoring import context
from aftercare.monitoring.models import FailedJob
from aftercare.monitoring.tests import jobs_for_tests
from aftercare.tenancy.models import AgentRestriction
from aftercare.tenancy.tests.factories import staff
from aftercare.webhooks.models import Delivery, Subscription

pytestmark = pytest.mark.django_db

LIST = "/monitoring/"
RETRY = "/monitoring/retry/"


@pytest.fixture
def admin(db):
    return staff(Role.ADMIN, username="admin")


@pytest.fixture
def failed_mail(db):
    return OutboundMail.objects.create(
        kind="test",
        dedupe_key="failed-1",
        to_address="ana@alpha.example",
        subject="Your request AC-1",
        body_text="Hello",
        message_id="<f1@aftercare.test>",
        state=OutboundMail.State.FAILED,
        attempts=8,
        last_error="SMTPServerDisconnected: gone",
    )


# -- recording ----------------------------------------------------------------------------


def test_a_failing_task_is_recorded_with_its_arguments_error_and_request_id(tmp_path):
    marker = tmp_path / "fixed"
    token = context.activate(context.Context(request_id="req-failing-job-1"))
    try:
        jobs_for_tests.fail_until_marked(str(marker), note="first")
    finally:
        context.deactivate(token)
    job = FailedJob.objects.get()
    assert job.task_name == "aftercare.monitoring.tests.jobs_for_tests.fail_until_marked"
    assert job.args == [str(marker)]
    assert job.kwargs == {"note": "first"}  # the travelling context is not an argument
    assert job.replayable
    assert job.error == "RuntimeError: marker fixed missing (first)"
    assert "Traceback" in job.traceback and "fail_until_marked" in job.traceback
    assert job.request_id == "req-failing-job-1"
    assert not job.resolved and not job.will_retry and job.attempts == 1


def test_a_task_with_retries_is_one_row_updated_until_it_gives_up():
    jobs_for_tests.always_fail(7)
    job = FailedJob.objects.get()
    assert job.attempts == 3  # the first run and two retries
    assert not job.will_retry
    assert job.error == "ValueError: always fails (7)"


def test_a_task_that_works_on_its_huey_retry_resolves_its_row(tmp_path):
    jobs_for_tests.fail_once_then_work(str(tmp_path / "m"))
    job = FailedJob.objects.get()
    assert job.resolved and job.resolved_at is not None
    assert job.error == "RuntimeError: first attempt fails"


def test_a_task_that_works_records_nothing(django_assert_num_queries, tmp_path):
    marker = tmp_path / "ok"
    marker.write_text("x")
    with django_assert_num_queries(0):
        jobs_for_tests.fail_until_marked(str(marker))
    assert not FailedJob.objects.exists()


# -- retrying from the page ---------------------------------------------------------------


def test_retry_runs_the_job_again_with_its_arguments(
    tmp_path, admin, client_for, django_capture_on_commit_callbacks
):
    marker = tmp_path / "fixed"
    jobs_for_tests.fail_until_marked(str(marker), note="x")
    job = FailedJob.objects.get()
    client = client_for(admin)
    # Still broken: the retry fails again and the same row says so.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(RETRY, {"kind": "jobs", "id": job.pk})
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.retried_at is not None and not job.resolved and job.attempts == 2
    assert FailedJob.objects.count() == 1
    # Fixed: the retry works and resolves the row.
    marker.write_text("fixed")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(RETRY, {"kind": "jobs", "id": job.pk}, HTTP_X_REQUEST_ID="retry-request-01")
    job.refresh_from_db()
    assert job.resolved and job.resolved_at is not None
    page = client.get(LIST).content.decode()
    assert "fail_until_marked" not in page  # resolved jobs leave the open list
    assert "fail_until_marked" in client.get(LIST, {"state": "all"}).content.decode()


def test_a_job_can_be_marked_resolved_without_running(tmp_path, admin, client_for):
    jobs_for_tests.fail_until_marked(str(tmp_path / "never"))
    job = FailedJob.objects.get()
    client_for(admin).post(RETRY, {"kind": "jobs", "id": job.pk, "action": "resolve"})
    job.refresh_from_db()
    assert job.resolved and job.retried_at is None


def test_a_job_whose_task_is_gone_says_so(admin, client_for):
    job = FailedJob.objects.create(task_id="t", task_name="aftercare.gone.tasks.old", error="x")
    response = client_for(admin).post(RETRY, {"kind": "jobs", "id": job.pk}, follow=True)
    assert "no longer exists" in response.content.decode()
    job.refresh_from_db()
    assert job.retried_at is None


def test_retry_sends_a_failed_mail_again(
    admin, client_for, failed_mail, django_capture_on_commit_callbacks, mailoutbox
):
    client = client_for(admin)
    page = client.get(LIST, {"show": "outbound"}).content.decode()
    assert "Your request AC-1" in page and "SMTPServerDisconnected" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(RETRY, {"kind": "outbound", "id": failed_mail.pk}, follow=True)
    assert "will be sent again" in response.content.decode()
    failed_mail.refresh_from_db()
    assert failed_mail.state == OutboundMail.State.SENT
    assert [m.subject for m in mailoutbox] == ["Your request AC-1"]


def test_a_mail_that_did_not_fail_is_not_retried(admin, client_for, failed_mail):
    OutboundMail.objects.filter(pk=failed_mail.pk).update(state=OutboundMail.State.SENT)
    response = client_for(admin).post(
        RETRY, {"kind": "outbound", "id": failed_mail.pk}, follow=True
    )
    assert "has not failed" in response.content.decode()


def test_retry_processes_a_rejected_message_again(admin, client_for, owner, org, settings):
    owner.email = "owner@alpha.example"
    owner.save()
    settings.AFTERCARE_MAIL_MAX_BYTES = 200  # the limit of the day the message came
    row = ingest(make_mail(sender="owner@alpha.example", subject="Printer on fire")).inbound
    assert (row.outcome, row.reason) == (InboundMessage.Outcome.REJECTED, "too_large")
    client = client_for(admin)
    page = client.get(LIST, {"show": "inbound"}).content.decode()
    assert "Printer on fire" in page and "larger than the limit" in page

    # Still over the limit: processed again, still rejected, nothing lost.
    response = client.post(RETRY, {"kind": "inbound", "id": row.pk}, follow=True)
    assert "still rejected" in response.content.decode()
    row.refresh_from_db()
    assert row.outcome == InboundMessage.Outcome.REJECTED and row.raw

    settings.AFTERCARE_MAIL_MAX_BYTES = 25 * 1024 * 1024  # the limit was raised
    response = client.post(RETRY, {"kind": "inbound", "id": row.pk}, follow=True)
    assert "Processed again: New request" in response.content.decode()
    row.refresh_from_db()
    assert row.outcome == InboundMessage.Outcome.TICKET and row.reason == ""
    ticket = Ticket.objects.get(pk=row.ticket_id)
    assert ticket.subject == "Printer on fire" and ticket.organisation == org
    assert ticket.reporter == owner
    # Done once: a second retry changes nothing.
    response = client.post(RETRY, {"kind": "inbound", "id": row.pk}, follow=True)
    assert "not waiting as rejected" in response.content.decode()
    assert Ticket.objects.filter(subject="Printer on fire").count() == 1


def test_retry_queues_a_failed_webhook_delivery_again(admin, client_for, org):
    sub = Subscription.objects.create(
        name="Alpha ERP",
        organisation=org,
        target_url="https://erp.alpha.example/hook",
        events=["ticket.created"],
    )
    row = Delivery.objects.create(
        subscription=sub,
        event="ticket.created",
        dedupe_key="d1",
        payload="{}",
        state=Delivery.State.FAILED,
        attempts=8,
        error="connection refused",
    )
    client = client_for(admin)
    assert "Alpha ERP" in client.get(LIST, {"show": "webhooks"}).content.decode()
    client.post(RETRY, {"kind": "webhooks", "id": row.pk})
    row.refresh_from_db()
    assert (row.state, row.attempts) == (Delivery.State.QUEUED, 0)


# -- who may ------------------------------------------------------------------------------


def test_the_page_lists_every_kind_for_an_administrator(admin, client_for, failed_mail):
    FailedJob.objects.create(
        task_id="t",
        task_name="aftercare.mail.tasks.send_outbox",
        error="OperationalError: database is locked",
    )
    response = client_for(admin).get(LIST)
    assert response.status_code == 200
    body = response.content.decode()
    assert "database is locked" in body
    assert "Outgoing mail (1)" in body and "Jobs (1)" in body
    assert reverse("monitoring:failure-list") in body  # the nav link


@pytest.mark.parametrize("who", ["owner", "coordinator"])
def test_customers_get_403(request, who, client_for, failed_mail):
    client = client_for(request.getfixturevalue(who))
    assert client.get(LIST).status_code == 403
    assert client.post(RETRY, {"kind": "outbound", "id": failed_mail.pk}).status_code == 403
    failed_mail.refresh_from_db()
    assert failed_mail.state == OutboundMail.State.FAILED


@pytest.mark.parametrize("who", ["operator", "consultant", "developer", "manager"])
def test_other_staff_get_403_and_no_nav_link(request, who, client_for, failed_mail):
    client = client_for(request.getfixturevalue(who))
    assert client.get(LIST).status_code == 403
    assert client.post(RETRY, {"kind": "outbound", "id": failed_mail.pk}).status_code == 403
    assert LIST not in client.get(reverse("console:queue")).content.decode()
    failed_mail.refresh_from_db()
    assert failed_mail.state == OutboundMail.State.FAILED


def test_an_administrator_restricted_to_some_organisations_gets_404(
    admin, org, client_for, failed_mail
):
    AgentRestriction.objects.create(user=admin, organisation=org)
    client = client_for(admin)
    assert client.get(LIST).status_code == 404
    assert client.post(RETRY, {"kind": "outbound", "id": failed_mail.pk}).status_code == 404
    assert LIST not in client.get(reverse("console:queue")).content.decode()


def test_anonymous_visitors_are_sent_to_sign_in(failed_mail):
    for response in (Client().get(LIST), Client().post(RETRY, {"kind": "outbound", "id": 1})):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))


def test_retry_is_post_only(admin, client_for):
    assert client_for(admin).get(RETRY).status_code == 405


def test_an_unknown_item_is_404(admin, client_for):
    assert client_for(admin).post(RETRY, {"kind": "outbound", "id": 999999}).status_code == 404
    assert client_for(admin).post(RETRY, {"kind": "jobs", "id": "x"}).status_code == 404
