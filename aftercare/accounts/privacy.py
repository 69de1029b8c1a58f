"""Privacy requests about one person: export everything about them, or anonymise them.

Export (GDPR art. 15/20) gives the person's *own* data: their profile, memberships and
contact-person records, the requests they reported with the public conversation on them,
every message they wrote (their own internal notes too, if they are staff), the files
they uploaded, approvals they decided, mail from and to their address, and the events
they caused. Internal notes other people wrote about their requests are the vendor's
working notes and are not included.

Anonymisation keeps requests, messages and events (their author becomes the anonymised
account) and removes the person: name, e-mail, phone and user name are replaced, sign-in
is disabled, 2FA devices, API tokens and sessions are deleted, contact-person records are
blanked, raw copies of their inbound mail are deleted, and finally their old address is
replaced in every text column of every table (so it appears nowhere in the database).
It is idempotent: a second run finds nothing left to change.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.contrib.sessions.models import Session
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, OperationalError, ProgrammingError, models, transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from django_scopes import scopes_disabled

from aftercare.accounts.models import SecurityEvent, TwoFactorDevice, User

ANON_DOMAIN = "invalid"  # RFC 2606: never routable


def placeholder_email(user_pk: int) -> str:
    return f"anon-{user_pk}@{ANON_DOMAIN}"


def placeholder_name(user_pk: int) -> str:
    return f"Anonymised contact #{user_pk}"


def is_anonymised(user: User) -> bool:
    return user.email == placeholder_email(user.pk) and not user.is_active


def find_person(identifier: str) -> User | None:
    """A user by user name, or by e-mail address when exactly one user has it."""
    identifier = identifier.strip()
    user = User.objects.filter(username__iexact=identifier).first()
    if user is None and "@" in identifier:
        matches = list(User.objects.filter(email__iexact=identifier)[:2])
        user = matches[0] if len(matches) == 1 else None
    return user


# -- export ------------------------------------------------------------------------------


def _model(label: str):
    try:
        return apps.get_model(label)
    except LookupError:
        return None


def _in_orgs(qs, organisations, field_name: str = "organisation_id"):
    return qs if organisations is None else qs.filter(**{f"{field_name}__in": organisations})


def collect(user: User, *, organisations: list[int] | None = None) -> dict[str, Any]:
    """Everything about ``user`` as plain data. ``organisations`` limits what comes from
    customer organisations (for an agent restricted to some); ``None`` means all."""
    Ticket = apps.get_model("desk", "Ticket")
    Message = apps.get_model("desk", "Message")
    Attachment = apps.get_model("desk", "Attachment")
    Approval = apps.get_model("desk", "Approval")
    Event = apps.get_model("desk", "Event")
    Membership = apps.get_model("tenancy", "Membership")
    ContactPerson = apps.get_model("tenancy", "ContactPerson")
    InboundMessage = apps.get_model("mail", "InboundMessage")
    OutboundMail = apps.get_model("mail", "OutboundMail")
    email = user.email.strip()

    with scopes_disabled():
        device = TwoFactorDevice.objects.filter(user=user).first()
        data: dict[str, Any] = {
            "generated_at": timezone.now(),
            "person": {
                "id": user.pk,
                "username": user.username,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "email": user.email,
                "phone": user.phone,
                "language": user.language,
                "time_zone": user.time_zone,
                "optional_mail": user.optional_mail,
                "is_active": user.is_active,
                "date_joined": user.date_joined,
                "last_login": user.last_login,
                "staff_groups": sorted(user.groups.values_list("name", flat=True)),
                "two_factor": {
                    "enabled": bool(device and device.is_active),
                    "since": device.confirmed_at if device else None,
                },
            },
        }
        data["memberships"] = [
            {"organisation": m.organisation.name, "code": m.organisation.code, "role": m.role}
            for m in _in_orgs(
                Membership.objects.filter(user=user).select_related("organisation"), organisations
            )
        ]
        contact_q = Q(user=user) | (Q(email__iexact=email) if email else Q(pk__in=[]))
        data["contact_person_records"] = [
            {
                "organisation": c.organisation.name,
                "name": c.name,
                "email": c.email,
                "phone": c.phone,
                "role": c.role,
                "is_primary": c.is_primary,
            }
            for c in _in_orgs(
                ContactPerson.objects.filter(contact_q).select_related("organisation"),
                organisations,
            )
        ]
        tickets = _in_orgs(
            Ticket.objects.filter(reporter=user).select_related("organisation"), organisations
        ).order_by("created_at")
        public = {}
        for m in (
            Message.objects.filter(ticket__in=tickets, kind="public")
            .select_related("author")
            .order_by("created_at")
        ):
            public.setdefault(m.ticket_id, []).append(
                {
                    "author": m.author.display_name if m.author else "",
                    "is_you": m.author_id == user.pk,
                    "channel": m.channel,
                    "body": m.body,
                    "created_at": m.created_at,
                }
            )
        data["requests_reported"] = [
            {
                "number": t.number,
                "organisation": t.organisation.name,
                "subject": t.subject,
                "description": t.description,
                "category": t.category,
                "priority": t.priority,
                "status": t.status,
                "channel": t.channel,
                "created_at": t.created_at,
                "closed_at": t.closed_at,
                "public_messages": public.get(t.pk, []),
            }
            for t in tickets
        ]
        data["messages_written"] = [
            {
                "request": m.ticket.number,
                "kind": m.kind,
                "channel": m.channel,
                "body": m.body,
                "created_at": m.created_at,
            }
            for m in _in_orgs(
                Message.objects.filter(author=user).select_related("ticket"), organisations
            ).order_by("created_at")
        ]
        attachments = list(
            _in_orgs(
                Attachment.objects.filter(uploaded_by=user).select_related("ticket"),
                organisations,
            ).order_by("created_at")
        )
        data["files_uploaded"] = [
            {
                "id": a.pk,
                "request": a.ticket.number,
                "name": a.name,
                "content_type": a.content_type,
                "size": a.size,
                "created_at": a.created_at,
                "file_in_archive": f"attachments/{a.pk}-{_safe_name(a.name)}",
            }
            for a in attachments
        ]
        data["approvals_decided"] = [
            {
                "request": a.ticket.number,
                "action": a.action,
                "state": a.state,
                "decided_at": a.decided_at,
                "decided_via": a.decided_via,
                "comment": a.decision_note,
            }
            for a in _in_orgs(
                Approval.objects.filter(decided_by=user).select_related("ticket"), organisations
            )
        ]
        inbound = InboundMessage.objects.none()
        if email:
            inbound = _in_orgs(
                InboundMessage.objects.filter(sender__iexact=email).select_related("ticket"),
                organisations,
            )
        data["mail_received_from_you"] = [
            {
                "message_id": m.message_id,
                "subject": m.subject,
                "sent_at": m.sent_at,
                "received_at": m.received_at,
                "outcome": m.outcome,
                "request": m.ticket.number if m.ticket else None,
            }
            for m in inbound.order_by("received_at")
        ]
        out_q = Q(recipient=user) | (Q(to_address__iexact=email) if email else Q(pk__in=[]))
        outbound = OutboundMail.objects.filter(out_q).select_related("ticket")
        if organisations is not None:
            outbound = outbound.filter(ticket__organisation_id__in=organisations)
        data["mail_sent_to_you"] = [
            {
                "to": m.to_address,
                "subject": m.subject,
                "body": m.body_text,
                "kind": m.kind,
                "state": m.state,
                "created_at": m.created_at,
                "sent_at": m.sent_at,
                "request": m.ticket.number if m.ticket else None,
            }
            for m in outbound.order_by("created_at")
        ]
        data["events_caused"] = [
            {
                "request": e.ticket.number,
                "action": e.action,
                "field": e.field,
                "old": e.old,
                "new": e.new,
                "note": e.note,
                "created_at": e.created_at,
            }
            for e in _in_orgs(
                Event.objects.filter(actor=user).select_related("ticket"), organisations
            ).order_by("created_at")
        ]
        data["account_events"] = [
            {"action": e.action, "created_at": e.created_at}
            for e in SecurityEvent.objects.filter(subject=user).order_by("created_at")
        ]
    data["_attachments"] = attachments
    return data


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:100] or "file"


def to_json(data: dict[str, Any]) -> str:
    clean = {k: v for k, v in data.items() if not k.startswith("_")}
    return json.dumps(clean, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)


def to_zip(data: dict[str, Any]) -> bytes:
    """``data.json`` plus the files the person uploaded (those still on disk)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", to_json(data))
        for attachment, row in zip(data["_attachments"], data["files_uploaded"], strict=True):
            try:
                with attachment.file.open("rb") as fh:
                    archive.writestr(row["file_in_archive"], fh.read())
            except (FileNotFoundError, ValueError, OSError):
                continue
    return buffer.getvalue()


def record_export(user: User, *, actor: User | None, reason: str = "") -> None:
    SecurityEvent.objects.create(
        action="accounts.contact.exported", subject=user, actor=actor, reason=reason
    )


# -- anonymisation -----------------------------------------------------------------------


@dataclass
class Result:
    user: User | None
    already: bool = False
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> int:
        return sum(self.rows.values())


def _text_fields(model) -> list[models.Field]:
    return [
        f
        for f in model._meta.concrete_fields
        if isinstance(f, models.CharField | models.TextField | models.JSONField)
        and not f.primary_key
    ]


def _replace(value: Any, pattern: re.Pattern, replacement: str) -> Any:
    if isinstance(value, str):
        return pattern.sub(replacement, value)
    # JSON: replace inside its serialised form (an address needs no JSON escaping).
    return json.loads(pattern.sub(replacement, json.dumps(value)))


def scrub_everywhere(needle: str, replacement: str, *, skip: set[str] | None = None) -> dict:
    """Replace ``needle`` (case-insensitive) in every text column of every model."""
    pattern = re.compile(re.escape(needle), re.IGNORECASE)
    counts: dict[str, int] = {}
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed or model._meta.label in (skip or set()):
            continue
        try:
            with transaction.atomic():
                _scrub_model(model, needle, pattern, replacement, counts)
        except (ProgrammingError, OperationalError):
            continue  # a model whose table does not exist (yet): nothing stored there
    return counts


def _scrub_model(model, needle: str, pattern: re.Pattern, replacement: str, counts: dict) -> None:
    for f in _text_fields(model):
        manager = model._base_manager
        if isinstance(f, models.JSONField):
            qs = manager.annotate(_as_text=Cast(f.name, TextField())).filter(
                _as_text__icontains=needle
            )
        else:
            qs = manager.filter(**{f"{f.name}__icontains": needle})
        for row in qs.only("pk", f.name).iterator():
            new = _replace(getattr(row, f.name), pattern, replacement)
            try:
                with transaction.atomic():
                    manager.filter(pk=row.pk).update(**{f.name: new})
            except IntegrityError:
                # A unique column that already holds the replacement: make it unique.
                unique = _replace(
                    getattr(row, f.name), pattern, replacement.replace("@", f"-{row.pk}@")
                )
                manager.filter(pk=row.pk).update(**{f.name: unique})
            key = f"{model._meta.label}.{f.name}"
            counts[key] = counts.get(key, 0) + 1


def _delete_sessions(user: User) -> int:
    doomed = []
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        # get_decoded() answers {} for a session it cannot read.
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            doomed.append(session.pk)
    return Session.objects.filter(pk__in=doomed).delete()[0]


def anonymise(identifier: str | User, *, actor: User | None, reason: str) -> Result:  # noqa: C901 - one list of steps
    """Anonymise a person (a user, or an address with no account), keeping requests."""
    user = identifier if isinstance(identifier, User) else find_person(identifier)
    if user is not None and is_anonymised(user):
        return Result(user, already=True)
    old_email = (user.email if user else str(identifier)).strip()
    result = Result(user)
    rows = result.rows
    InboundMessage = apps.get_model("mail", "InboundMessage")
    OutboundMail = apps.get_model("mail", "OutboundMail")
    ContactPerson = apps.get_model("tenancy", "ContactPerson")
    AddressStatus = _model("mail.AddressStatus")
    ApiToken = _model("api.ApiToken")

    with scopes_disabled(), transaction.atomic():
        if user is not None:
            SecurityEvent.objects.create(
                action="accounts.contact.anonymised", subject=user, actor=actor, reason=reason
            )
            names = {n for n in (user.get_full_name().strip(), user.username) if len(n) >= 3}
            new_email = placeholder_email(user.pk)
            new_name = placeholder_name(user.pk)
            user.username = f"anonymised-{user.pk}"
            user.first_name, user.last_name = "Anonymised contact", f"#{user.pk}"
            user.email = new_email
            user.phone = ""
            user.is_active = False
            user.is_staff = user.is_superuser = False
            user.optional_mail = False
            user.set_unusable_password()
            user.save()
            rows["devices"] = TwoFactorDevice.objects.filter(user=user).delete()[0]
            if ApiToken is not None:
                rows["api_tokens"] = ApiToken.objects.filter(user=user).delete()[0]
            rows["sessions"] = _delete_sessions(user)
            contacts = ContactPerson.objects.filter(
                Q(user=user) | (Q(email__iexact=old_email) if old_email else Q(pk__in=[]))
            )
        else:
            names = set()
            digest = hashlib.sha256(old_email.lower().encode()).hexdigest()[:12]
            new_email = f"anon-{digest}@{ANON_DOMAIN}"
            new_name = "Anonymised contact"
            contacts = ContactPerson.objects.filter(email__iexact=old_email)
            if "@" not in old_email or not old_email:
                return result
            if contacts.exists() or InboundMessage.objects.filter(sender__iexact=old_email):
                SecurityEvent.objects.create(
                    action="accounts.contact.anonymised", actor=actor, reason=reason
                )
        rows["contact_persons"] = contacts.update(name=new_name, email="", phone="")
        # Mail: no raw copies (headers, bodies), and no name on the rows.
        inbound = InboundMessage.objects.filter(sender__iexact=old_email) if old_email else []
        for mail in inbound:
            if mail.raw:
                mail.raw.delete(save=False)
            mail.raw = ""
            mail.sender = new_email
            mail.sender_name = ""
            mail.save(update_fields=["raw", "sender", "sender_name"])
            rows["inbound_mail"] = rows.get("inbound_mail", 0) + 1
        out_q = Q(to_address__iexact=old_email) if old_email else Q(pk__in=[])
        if user is not None:
            out_q |= Q(recipient=user)
        for mail in OutboundMail.objects.filter(out_q):
            mail.to_address = new_email
            for name in names:
                pat = re.compile(re.escape(name), re.IGNORECASE)
                mail.body_text = pat.sub(new_name, mail.body_text)
                mail.body_html = pat.sub(new_name, mail.body_html)
                mail.subject = pat.sub(new_name, mail.subject)
            mail.save(update_fields=["to_address", "body_text", "body_html", "subject"])
            rows["outbound_mail"] = rows.get("outbound_mail", 0) + 1
        if AddressStatus is not None and old_email:
            rows["address_status"] = AddressStatus.objects.filter(
                address__iexact=old_email
            ).delete()[0]
        if old_email and "@" in old_email:
            for key, count in scrub_everywhere(old_email, new_email).items():
                rows[f"scrubbed {key}"] = count
    return result
