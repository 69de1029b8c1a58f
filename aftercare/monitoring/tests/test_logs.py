"""Structured logs and the request id: from the proxy's header to a background job's line."""

from __future__ import annotations

import io
import json
import logging
import re
import sys

import pytest
from django.test import Client

from aftercare.mail.models import OutboundMail
from aftercare.monitoring import context, jobs
from aftercare.monitoring.logs import (
    JsonFormatter,
    RequestContextFilter,
    TextFormatter,
    logging_config,
)
from aftercare.monitoring.tests import jobs_for_tests

HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def json_lines():
    """Every record of the project's loggers, formatted as the JSON handler formats them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    handler.setLevel(logging.DEBUG)
    names = ["aftercare", "huey"]
    saved = {}
    for name in names:
        logger = logging.getLogger(name)
        saved[name] = logger.level
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)

    def read() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines() if line]

    yield read
    for name in names:
        logging.getLogger(name).removeHandler(handler)
        logging.getLogger(name).setLevel(saved[name])


def _access_lines(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line["logger"] == "aftercare.request"]


def test_a_request_logs_one_json_line_with_its_id_user_and_status(
    db, owner, client_for, json_lines
):
    response = client_for(owner).get("/portal/", HTTP_X_REQUEST_ID="proxy-4f1c2d3e-0001")
    assert response.status_code == 200
    assert response["X-Request-ID"] == "proxy-4f1c2d3e-0001"
    [line] = _access_lines(json_lines())
    assert line["request_id"] == "proxy-4f1c2d3e-0001"
    assert line["user_id"] == owner.pk
    assert line["status"] == 200
    assert line["method"] == "GET"
    assert line["path"] == "/portal/"
    assert line["level"] == "INFO"
    assert isinstance(line["duration_ms"], float)
    assert line["time"].endswith("+00:00")


def test_an_anonymous_request_gets_a_new_id_and_no_user(db, json_lines):
    response = Client().get("/accounts/login/")
    rid = response["X-Request-ID"]
    assert HEX32.fullmatch(rid)
    [line] = _access_lines(json_lines())
    assert line["request_id"] == rid
    assert "user_id" not in line
    assert line["status"] == 200


@pytest.mark.parametrize(
    "given",
    [
        "short",  # too short to be anyone's id
        "has space in it 123",
        'quote"injection-1234',
        "x" * 129,
        "-starts-with-a-dash",
        "ünïcödé-request-id",
    ],
)
def test_a_malformed_request_id_is_replaced(db, given):
    response = Client().get("/healthz", HTTP_X_REQUEST_ID=given)
    assert response["X-Request-ID"] != given
    assert HEX32.fullmatch(response["X-Request-ID"])


@pytest.mark.parametrize(
    "given", ["0f8fad5b-d9cb-469f-a165-70867728950e", "a" * 32, "Root.1:abc_def-9", "x" * 128]
)
def test_a_well_formed_request_id_is_kept(db, given):
    assert Client().get("/healthz", HTTP_X_REQUEST_ID=given)["X-Request-ID"] == given


def test_an_exception_is_logged_with_its_traceback_as_json():
    record = logging.LogRecord(
        "aftercare.x", logging.ERROR, __file__, 1, "it broke: %s", ("x",), None
    )
    try:
        raise KeyError("missing")
    except KeyError:
        record.exc_info = sys.exc_info()
    RequestContextFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "it broke: x"
    assert line["level"] == "ERROR"
    assert line["exc_type"] == "KeyError"
    assert "Traceback" in line["exc_info"] and "missing" in line["exc_info"]
    assert "request_id" not in line  # outside any request


def test_the_text_format_carries_the_request_id():
    token = context.activate(context.Context(request_id="abc123def456"))
    try:
        record = logging.LogRecord("aftercare.x", logging.INFO, __file__, 1, "hello", (), None)
        RequestContextFilter().filter(record)
        assert "[abc123def456] aftercare.x: hello" in TextFormatter().format(record)
    finally:
        context.deactivate(token)


def test_the_settings_choose_the_formatter():
    base = {"version": 1, "handlers": {"console": {"class": "logging.StreamHandler"}}}
    as_json = logging_config(base, fmt="json")
    assert as_json["handlers"]["console"]["formatter"] == "aftercare_json"
    assert as_json["handlers"]["console"]["filters"] == ["request_context"]
    assert logging_config(base, fmt="text")["handlers"]["console"]["formatter"] == (
        "aftercare_text"
    )
    assert "formatter" not in base["handlers"]["console"]  # the project's dict is untouched


@pytest.mark.django_db(transaction=True)
def test_a_job_enqueued_by_a_request_logs_with_that_requests_id(json_lines, client_for):
    """The real path: a failed mail retried from the failures page commits, the commit
    enqueues the outbox job (inline here, as Huey's immediate mode), and the job's own log
    line carries the id of the request that caused it."""
    from aftercare.accounts.roles import Role
    from aftercare.tenancy.tests.factories import staff

    admin = staff(Role.ADMIN, username="admin")
    row = OutboundMail.objects.create(
        kind="test",
        dedupe_key="k1",
        to_address="ana@alpha.example",
        subject="Your request",
        body_text="Hello",
        message_id="<m1@aftercare.test>",
        state=OutboundMail.State.FAILED,
        attempts=8,
    )
    response = client_for(admin).post(
        "/monitoring/retry/",
        {"kind": "outbound", "id": row.pk},
        HTTP_X_REQUEST_ID="req-from-proxy-777",
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.state == OutboundMail.State.SENT  # the job ran
    job_lines = [line for line in json_lines() if line["logger"] == "aftercare.mail.tasks"]
    assert job_lines, json_lines()
    assert job_lines[0]["message"].startswith("outbox:")
    assert job_lines[0]["request_id"] == "req-from-proxy-777"
    assert job_lines[0]["task"] == "aftercare.mail.tasks.send_outbox"


def test_the_request_id_travels_inside_the_queued_message(json_lines):
    """Through the queue: serialised by the web process, executed by a worker."""
    h = jobs.huey()
    token = context.activate(context.Context(request_id="queued-in-request-1"))
    try:
        task = jobs_for_tests.say.s("hello")
        jobs._on_enqueued("enqueued", task)
        message = h.serialize_task(task)
    finally:
        context.deactivate(token)
    assert context.current_request_id() == ""
    worker_task = h.deserialize_task(message)
    assert worker_task.kwargs[jobs.KEY] == {"request_id": "queued-in-request-1"}
    result = h.execute(worker_task)
    assert result == "queued-in-request-1"  # the task function saw no extra argument
    assert context.current_request_id() == ""  # and the worker forgets it afterwards
    [line] = [x for x in json_lines() if x["logger"] == "aftercare.monitoring.tests.jobs"]
    assert line["message"] == "the job says hello"
    assert line["request_id"] == "queued-in-request-1"


def test_a_job_enqueued_outside_a_request_carries_nothing():
    task = jobs_for_tests.say.s("periodic")
    jobs._on_enqueued("enqueued", task)
    assert jobs.KEY not in task.kwargs
