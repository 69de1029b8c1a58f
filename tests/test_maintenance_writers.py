"""Read-only maintenance mode against every writer: commands, background jobs, imports.

With the mode on, each command that writes is refused before it reads or writes anything:
one line on stderr ("Aftercare is in maintenance (read-only) mode: … Nothing was
changed."), exit status 75 (``EX_TEMPFAIL``, "try again later"), no traceback — and every
table of the database holds exactly what it held before. Dry runs of the imports, the
read-only commands and ``restore`` keep working. Jobs skip their run with a log line and
never fail (a failed job would be recorded as noise on the failures page).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from aftercare.accounts.models import User
from aftercare.desk import services as desk
from aftercare.desk.models import Event, Message, Status, Ticket
from aftercare.desk.tests.factories import ticket_for
from aftercare.mail.tests.factories import make_mail
from aftercare.monitoring.models import FailedJob
from aftercare.ops import maintenance
from aftercare.ops.models import MaintenanceFlag
from aftercare.sla.models import SlaClock
from aftercare.tenancy.models import Organisation
from conftest import database_url

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpora" / "trello"
NOTE = "Back at 06:00 UTC."
REFUSAL = f"Aftercare is in maintenance (read-only) mode: {NOTE[:-1]}. Nothing was changed."


def board() -> dict:
    """A small Trello export: one list, two cards, a member with an e-mail, a comment."""
    member = {"id": "5a0000000000000000000009", "username": "ivan", "fullName": "Ivan P"}
    return {
        "id": "b1",
        "name": "Support",
        "members": [member],
        "lists": [{"id": "l1", "name": "To Do"}],
        "cards": [
            {
                "id": f"64000000000000000000000{n}",
                "name": f"Card {n}",
                "desc": "",
                "idList": "l1",
                "idMembers": [member["id"]],
            }
            for n in (1, 2)
        ],
        "actions": [
            {
                "id": "a1",
                "type": "commentCard",
                "date": "2023-03-02T10:00:00.000Z",
                "memberCreator": member,
                "data": {"text": "Hello", "card": {"id": "640000000000000000000001"}},
            }
        ],
    }


@pytest.fixture
def files(tmp_path, owner, operator):
    csv = tmp_path / "tickets.csv"
    csv.write_text(
        "external_id,subject,description,status,reporter,assignee\n"
        f"r1,Printer,It is on fire,backlog,{owner.email},{operator.email}\n"
        f"r2,Scanner,Jammed,in_progress,{owner.email},\n",
        encoding="utf-8",
    )
    trello = tmp_path / "board.json"
    trello.write_text(json.dumps(board()), encoding="utf-8")
    eml = tmp_path / "one.eml"
    eml.write_bytes(make_mail(subject="filed during maintenance", sender=owner.email))
    return {"csv": csv, "trello": trello, "eml": eml, "out": tmp_path / "out"}


@pytest.fixture
def world(org, owner, operator, consultant):
    """Requests in several states: one released long ago (archiving would take it), one
    open with running clocks (the SLA check and a recalculation would write)."""
    open_one = ticket_for(owner, org, subject="Open")
    released = ticket_for(owner, org, subject="Released")
    desk.escalate(ticket=released, actor=operator, assignee=consultant, note="Consultant")
    for status in (Status.SPRINT, Status.IN_PROGRESS, Status.DONE, Status.RELEASED):
        desk.transition(ticket=released, actor=consultant, target=status)
    Ticket.objects.filter(pk=released.pk).update(released_at=timezone.now() - timedelta(days=400))
    past = timezone.now() - timedelta(days=3)
    SlaClock.objects.filter(ticket=open_one).update(
        started_at=past - timedelta(days=1), warn_at=past, deadline=past
    )
    return open_one, released


def snapshot() -> dict:
    """Row counts of every Aftercare table, and the full rows of requests and clocks."""
    counts = {
        model._meta.label: model._base_manager.count()
        for model in apps.get_models()
        if model.__module__.startswith("aftercare.")
    }
    counts["auth.User"] = User.objects.count()
    return {
        "counts": counts,
        "tickets": list(Ticket.objects.order_by("pk").values()),
        "clocks": list(SlaClock.objects.order_by("pk").values()),
        "users": list(User.objects.order_by("pk").values("pk", "email", "is_active")),
    }


def key_counts() -> tuple[int, ...]:
    return (
        Ticket.objects.count(),
        Message.objects.count(),
        Event.objects.count(),
        User.objects.count(),
        Organisation.objects.count(),
    )


@pytest.fixture
def maintenance_on(db):
    maintenance.switch(True, message=NOTE, by="tests")
    yield
    maintenance.forget()


WRITERS = {
    "import_csv": lambda f: ["import_csv", str(f["csv"]), "--organisation", "alpha"],
    "import_csv --skip-bad-rows": lambda f: [
        "import_csv",
        str(f["csv"]),
        "--organisation",
        "alpha",
        "--skip-bad-rows",
    ],
    "import_trello": lambda f: [
        "import_trello",
        str(f["trello"]),
        "--organisation",
        "alpha",
        "--no-input",
    ],
    "archive_released": lambda f: ["archive_released", "--days", "0"],
    "sla_check": lambda f: ["sla_check"],
    "sla_recalculate": lambda f: ["sla_recalculate"],
    "fetch_mail": lambda f: ["fetch_mail"],
    "send_mail_queue": lambda f: ["send_mail_queue"],
    "webhooks_deliver": lambda f: ["webhooks_deliver"],
    "demo_load": lambda f: ["demo_load"],
    "contact_anonymise": lambda f: [
        "contact_anonymise",
        "someone@example.test",
        "--reason",
        "Asked to be forgotten",
    ],
}


@pytest.mark.parametrize("name", list(WRITERS))
def test_every_writing_command_is_refused_and_changes_nothing(
    name, world, files, maintenance_on, capsys
):
    before = snapshot()
    counts = key_counts()
    with pytest.raises(CommandError) as refused:
        call_command(*WRITERS[name](files))
    assert str(refused.value) == REFUSAL
    assert refused.value.returncode == maintenance.EXIT_MAINTENANCE == 75
    assert key_counts() == counts
    assert snapshot() == before
    assert capsys.readouterr().out == ""  # refused before it printed any progress


def test_ingest_mail_keeps_its_exit_75_and_stores_nothing(world, files, maintenance_on, capsys):
    before = snapshot()
    with pytest.raises(SystemExit) as refused:
        call_command("ingest_mail", str(files["eml"]))
    assert refused.value.code == 75
    assert "maintenance (read-only) mode" in capsys.readouterr().err
    assert snapshot() == before


def test_a_command_running_when_maintenance_starts_is_refused_cleanly(world, files, monkeypatch):
    """The flag switched on after the command's own check: the service refuses, and the
    command turns that into the same refusal (no traceback)."""
    import aftercare.desk.management.commands.archive_released as command

    def switched_on(**kwargs):
        raise maintenance.MaintenanceError(NOTE)

    monkeypatch.setattr(command, "archive_released", switched_on)
    with pytest.raises(CommandError) as refused:
        call_command("archive_released")
    assert str(refused.value) == REFUSAL
    assert refused.value.returncode == 75


@pytest.mark.parametrize("which", ["csv", "trello"])
def test_dry_runs_of_imports_run_and_write_nothing(which, world, files, maintenance_on, capsys):
    before = snapshot()
    if which == "csv":
        call_command("import_csv", str(files["csv"]), "--organisation", "alpha", "--dry-run")
        assert "2 new" in capsys.readouterr().out
    else:
        call_command("import_trello", str(files["trello"]), "--organisation", "alpha", "--dry-run")
        out = capsys.readouterr().out
        assert "2 created" in out and "Dry run: nothing was written." in out
    assert snapshot() == before


def _corpus_boards() -> list:
    if not CORPUS.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{CORPUS} is missing"))]
    return [
        pytest.param(path, id=str(path.relative_to(CORPUS)))
        for path in sorted(CORPUS.rglob("*.json"))
        if isinstance(json.loads(path.read_text(encoding="utf-8")), dict)
        and "cards" in json.loads(path.read_text(encoding="utf-8"))
    ]


@pytest.mark.parametrize("path", _corpus_boards())
def test_dry_runs_of_the_real_exports_write_nothing_with_or_without_maintenance(
    path, world, tmp_path, capsys
):
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"Tasks": "in_progress"}), encoding="utf-8")
    args = ["import_trello", str(path), "--organisation", "alpha", "--no-input"]
    args += ["--mapping", str(mapping), "--dry-run"]
    before = snapshot()
    call_command(*args)
    assert snapshot() == before
    maintenance.switch(True, message=NOTE)
    before = snapshot()
    call_command(*args)
    assert "Dry run: nothing was written." in capsys.readouterr().out
    assert snapshot() == before
    with pytest.raises(CommandError, match="maintenance"):
        call_command(*args[:-1])
    assert snapshot() == before


def test_read_only_commands_keep_working(world, files, maintenance_on, owner):
    def run(*args) -> tuple[str, str]:
        out, err = StringIO(), StringIO()
        call_command(*args, stdout=out, stderr=err)
        return out.getvalue(), err.getvalue()

    before = snapshot()
    out, err = run("export_csv", "--organisation", "alpha")
    assert "Released" in out and "2 request(s) exported" in err
    assert "Maintenance mode: on" in run("maintenance", "status")[0]
    # `backup` never asks the flag (aftercare/ops/tests/test_backup.py runs it; it needs
    # a transactional test database, so it is not repeated here).
    assert snapshot() == before
    out, _err = run("contact_export", owner.username)  # writes only its audit record
    assert json.loads(out)
    assert key_counts()[:3] == (2, before["counts"]["desk.Message"], before["counts"]["desk.Event"])
    run("maintenance", "off")
    assert not maintenance.is_on()


def test_restore_is_allowed_during_maintenance(world, maintenance_on, tmp_path, capsys):
    """Restoring is the operator's own replacement of the data: not refused (its own
    checks still apply; here the archive is missing)."""
    with pytest.raises(CommandError) as refused:
        call_command("restore", str(tmp_path / "missing.tar.gz"))
    assert str(refused.value).startswith("Restore refused:")
    assert "Nothing was changed" not in str(refused.value)
    assert "restoring anyway" in capsys.readouterr().err


def test_jobs_skip_quietly_and_leave_no_failed_job(world, maintenance_on, caplog):
    from aftercare.mail.tasks import run_fetch, run_outbox, send_outbox
    from aftercare.sla.tasks import run_archive, run_sla_check, sla_check_now
    from aftercare.webhooks.tasks import deliver_webhooks, run_deliveries

    before = snapshot()
    caplog.set_level("INFO", logger="aftercare.ops.maintenance")
    assert run_sla_check() == {}
    assert run_archive() == []
    assert run_outbox() == {}
    assert run_fetch() == {}
    assert run_deliveries(purge=True) == {}
    # Through Huey (immediate mode in tests): the signal hooks would record a failure.
    sla_check_now()
    send_outbox()
    deliver_webhooks()
    assert FailedJob.objects.count() == 0
    assert snapshot() == before
    assert "SLA check skipped: read-only maintenance mode is on" in caplog.text


def test_a_job_interrupted_by_maintenance_stops_without_failing(world, monkeypatch, caplog):
    import aftercare.sla.tasks as tasks

    def switched_on(**kwargs):
        raise maintenance.MaintenanceError(NOTE)

    monkeypatch.setattr(tasks, "archive_released", switched_on)
    caplog.set_level("INFO", logger="aftercare.ops.maintenance")
    assert tasks.run_archive() == []
    tasks.archive_periodic.call_local()
    assert FailedJob.objects.count() == 0
    assert "archiving stopped" in caplog.text


def test_after_maintenance_the_commands_write_again(world, files, capsys):
    maintenance.switch(True, message=NOTE)
    with pytest.raises(CommandError):
        call_command(*WRITERS["import_csv"](files))
    maintenance.switch(False)
    call_command(*WRITERS["import_csv"](files))
    assert Ticket.objects.count() == 4
    call_command("sla_check")
    assert re.search(r"breached [1-9]", capsys.readouterr().out)


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url()}
    return subprocess.run(
        [sys.executable, "-m", "aftercare", *args],
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
        text=True,
    )


@pytest.mark.django_db(transaction=True)
def test_the_cli_refuses_with_one_line_exit_75_and_no_traceback(world, files):
    MaintenanceFlag.objects.update_or_create(pk=1, defaults={"is_on": True, "message": NOTE})
    maintenance.forget()
    before = snapshot()
    for args in (
        ["import-csv", str(files["csv"]), "--organisation", "alpha"],
        ["import-trello", str(files["trello"]), "--organisation", "alpha", "--no-input"],
        ["archive-released", "--days", "0"],
        ["sla-check"],
    ):
        done = _cli(*args)
        assert done.returncode == 75, (args, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr
        assert done.stderr.splitlines() == [REFUSAL]  # one line, nothing else
        assert done.stdout == ""
    assert snapshot() == before
    done = _cli("import-csv", str(files["csv"]), "--organisation", "alpha", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert snapshot() == before
