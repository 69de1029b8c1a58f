from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from aftercare.desk import services
from aftercare.desk.models import Attachment, Channel, Event, Level, Priority, Status, Ticket
from aftercare.desk.tests.factories import ticket_for

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_open_ticket_numbers_and_records_creation(owner, org):
    t1 = ticket_for(owner, org)
    t2 = ticket_for(owner, org)
    year = timezone.localtime().year
    assert t1.number == f"AC-{year}-000001"
    assert t2.number == f"AC-{year}-000002"
    assert Event.objects.filter(ticket=t1, action="desk.ticket.created").count() == 1
    assert t1.messages.count() == 1


def test_a_customer_cannot_file_for_another_organisation(owner, other_org):
    with pytest.raises(PermissionDenied):
        ticket_for(owner, other_org)


def test_a_customer_cannot_register_phone_requests(owner, org):
    with pytest.raises(PermissionDenied):
        ticket_for(owner, org, channel=Channel.PHONE)


def test_operator_files_on_behalf_of_a_caller(operator, owner, org):
    t = ticket_for(owner, org, actor=operator, channel=Channel.PHONE)
    assert t.reporter == owner and t.created_by == operator
    assert "on behalf" in Event.objects.get(ticket=t).note


def test_developer_may_not_file_on_behalf(developer, owner, org):
    with pytest.raises(PermissionDenied):
        ticket_for(owner, org, actor=developer, channel=Channel.PHONE)


def test_reprioritise_keeps_the_customer_priority_and_needs_a_reason(ticket, operator):
    with pytest.raises(ValidationError):
        services.reprioritise(ticket=ticket, actor=operator, priority=Priority.CRITICAL, reason="")
    services.reprioritise(
        ticket=ticket, actor=operator, priority=Priority.CRITICAL, reason="Production is down"
    )
    ticket.refresh_from_db()
    assert ticket.priority == Priority.CRITICAL
    assert ticket.customer_priority == Priority.NORMAL
    ev = Event.objects.get(ticket=ticket, field="priority")
    assert (ev.old, ev.new, ev.note) == ("3", "1", "Production is down")


def test_customer_cannot_reprioritise(ticket, owner):
    with pytest.raises(PermissionDenied):
        services.reprioritise(ticket=ticket, actor=owner, priority=1, reason="urgent!")


def test_escalate_moves_to_l2_with_consultant(ticket, operator, consultant):
    services.escalate(ticket=ticket, actor=operator, assignee=consultant, note="Needs L2")
    ticket.refresh_from_db()
    assert ticket.level == Level.L2 and ticket.assignee == consultant
    with pytest.raises(ValidationError):
        services.escalate(ticket=ticket, actor=operator)


def test_escalate_refuses_a_non_consultant(ticket, operator, developer):
    with pytest.raises(ValidationError):
        services.escalate(ticket=ticket, actor=operator, assignee=developer)


def test_assign_only_to_staff(ticket, operator, owner, consultant):
    with pytest.raises(ValidationError):
        services.assign(ticket=ticket, actor=operator, assignee=owner)
    services.assign(ticket=ticket, actor=operator, assignee=consultant)
    ev = Event.objects.get(ticket=ticket, field="assignee")
    assert ev.new == consultant.display_name


def test_assign_refuses_an_agent_restricted_to_another_organisation(
    ticket, operator, consultant, other_org, org
):
    from aftercare.tenancy.models import AgentRestriction

    AgentRestriction.objects.create(user=consultant, organisation=other_org)
    with pytest.raises(ValidationError) as refused:
        services.assign(ticket=ticket, actor=operator, assignee=consultant)
    assert "may not see requests of Alpha Foods" in refused.value.message_dict["assignee"][0]
    ticket.refresh_from_db()
    assert ticket.assignee is None
    assert not Event.objects.filter(ticket=ticket, action="desk.ticket.assigned").exists()
    # Restricted to this customer (among others): allowed.
    AgentRestriction.objects.create(user=consultant, organisation=org)
    services.assign(ticket=ticket, actor=operator, assignee=consultant)
    ticket.refresh_from_db()
    assert ticket.assignee == consultant


def test_escalate_refuses_a_consultant_restricted_to_another_organisation(
    ticket, operator, consultant, other_org
):
    from aftercare.tenancy.models import AgentRestriction

    AgentRestriction.objects.create(user=consultant, organisation=other_org)
    with pytest.raises(ValidationError) as refused:
        services.escalate(ticket=ticket, actor=operator, assignee=consultant)
    assert "may not see requests" in refused.value.message_dict["assignee"][0]
    ticket.refresh_from_db()
    assert (ticket.level, ticket.assignee) == (Level.L1, None)


def test_an_agent_restricted_elsewhere_may_not_assign_or_escalate(
    ticket, operator, consultant, other_org
):
    from aftercare.tenancy.models import AgentRestriction

    AgentRestriction.objects.create(user=operator, organisation=other_org)
    with pytest.raises(PermissionDenied):
        services.assign(ticket=ticket, actor=operator, assignee=consultant)
    with pytest.raises(PermissionDenied):
        services.escalate(ticket=ticket, actor=operator)
    ticket.refresh_from_db()
    assert (ticket.level, ticket.assignee) == (Level.L1, None)


def test_an_agent_restricted_elsewhere_changes_and_files_nothing_here(
    ticket, operator, owner, org, other_org
):
    from aftercare.tenancy.models import AgentRestriction

    AgentRestriction.objects.create(user=operator, organisation=other_org)
    with pytest.raises(PermissionDenied):
        services.reprioritise(ticket=ticket, actor=operator, priority=1, reason="urgent")
    with pytest.raises(PermissionDenied):
        services.classify(ticket=ticket, actor=operator, subject="Renamed")
    with pytest.raises(PermissionDenied):
        services.acknowledge(ticket=ticket, actor=operator)
    with pytest.raises(PermissionDenied):
        ticket_for(owner, org, actor=operator, channel=Channel.PHONE, subject="Call")
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.subject) == (Priority.NORMAL, "Invoice posting fails")
    assert not Ticket.objects.filter(subject="Call").exists()
    assert not Event.objects.filter(ticket=ticket, action="desk.ticket.acknowledged").exists()


def test_internal_note_needs_permission(ticket, owner, consultant):
    with pytest.raises(PermissionDenied):
        services.reply(ticket=ticket, actor=owner, body="x", internal=True)
    msg = services.reply(ticket=ticket, actor=consultant, body="check logs", internal=True)
    assert msg.is_internal
    assert Event.objects.get(ticket=ticket, action="desk.note.added").is_internal


def test_classify_records_every_field(ticket, operator, org):
    from aftercare.tenancy.tests.factories import SystemFactory

    system = SystemFactory(organisation=org)
    services.classify(
        ticket=ticket,
        actor=operator,
        category="problem",
        system=system,
        subject="Posting fails for all invoices",
    )
    fields = set(
        Event.objects.filter(ticket=ticket, action="desk.ticket.updated").values_list(
            "field", flat=True
        )
    )
    assert fields == {"category", "system", "subject"}


def test_classify_refuses_a_system_of_another_organisation(ticket, operator, other_org):
    from aftercare.tenancy.tests.factories import SystemFactory

    with pytest.raises(ValidationError):
        services.classify(
            ticket=ticket, actor=operator, system=SystemFactory(organisation=other_org)
        )


def test_attachments_are_checked_before_anything_is_saved(owner, org):
    bad = SimpleUploadedFile("tool.exe", b"MZ\x90\x00rest", content_type="application/x-msdos")
    with pytest.raises(ValidationError):
        ticket_for(owner, org, attachments=[bad])
    assert not Ticket.objects.exists()


def test_a_renamed_program_is_refused(owner, org):
    fake = SimpleUploadedFile("photo.png", b"MZ\x90\x00" + b"\x00" * 20)
    with pytest.raises(ValidationError, match="program"):
        ticket_for(owner, org, attachments=[fake])


def test_a_pdf_that_is_not_a_pdf_is_refused(owner, org):
    fake = SimpleUploadedFile("invoice.pdf", b"<html><script>alert(1)</script>")
    with pytest.raises(ValidationError, match="not a real PDF"):
        ticket_for(owner, org, attachments=[fake])


def test_too_large_attachment_is_refused(owner, org, settings):
    settings.AFTERCARE_MAX_ATTACHMENT_BYTES = 10
    with pytest.raises(ValidationError, match="limit"):
        ticket_for(owner, org, attachments=[SimpleUploadedFile("a.txt", b"x" * 11)])


def test_valid_attachment_is_stored_under_a_random_name(owner, org):
    t = ticket_for(owner, org, attachments=[SimpleUploadedFile("../../etc/screen.png", PNG)])
    att = Attachment.objects.get(ticket=t)
    assert att.name == "screen.png"
    assert "screen" not in att.file.name and att.file.name.endswith(".png")
    with att.file.open("rb") as fh:
        assert fh.read() == PNG


def test_storage_failure_leaves_no_half_created_ticket(owner, org, monkeypatch):
    from django.core.files.storage import FileSystemStorage

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(FileSystemStorage, "_save", broken)
    with pytest.raises(services.AttachmentStorageError) as refused:
        ticket_for(owner, org, attachments=[SimpleUploadedFile("a.png", PNG)])
    assert "No space left on device" in str(refused.value.message_dict["files"])
    assert not Ticket.objects.exists() and not Attachment.objects.exists()


def _released(ticket, consultant, when):
    for target in (Status.SPRINT, Status.IN_PROGRESS, Status.DONE, Status.RELEASED):
        services.transition(ticket=ticket, actor=consultant, target=target)
    Ticket.objects.filter(pk=ticket.pk).update(released_at=when)


def test_archive_released_after_ten_calendar_days(owner, org, consultant):
    now = timezone.now()
    old = ticket_for(owner, org)
    recent = ticket_for(owner, org)
    _released(old, consultant, now - timedelta(days=10, minutes=1))
    _released(recent, consultant, now - timedelta(days=9, hours=23))
    assert services.archive_released(now=now) == [old.number]
    assert services.archive_released(now=now) == []  # idempotent
    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.status == Status.ARCHIVED and recent.status == Status.RELEASED
    ev = Event.objects.filter(ticket=old, field="status").last()
    assert ev.actor is None and "10 days" in ev.note


def test_archive_command(owner, org, consultant, capsys):
    t = ticket_for(owner, org)
    _released(t, consultant, timezone.now() - timedelta(days=30))
    call_command("archive_released")
    assert t.number in capsys.readouterr().out
    t.refresh_from_db()
    assert t.status == Status.ARCHIVED
