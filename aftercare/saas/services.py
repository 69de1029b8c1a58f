"""Every change of a SaaS migration: one function each, one transaction each, audited.

The states run lead → offer sent → confirmed (or declined) → scheduled → in progress →
handed over → accepted → invoiced. A function called out of order raises
``TransitionError`` whose ``message`` says why, for the person; nothing is changed then.
Each change writes a ``MigrationEvent`` (who, what, old → new) in the same transaction,
under a row lock on the migration so two people cannot move it at once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from aftercare.accounts.models import User
from aftercare.accounts.roles import PermSet, Role
from aftercare.documents.pdf import render_pdf
from aftercare.ops.maintenance import check_writable
from aftercare.saas import notify
from aftercare.saas.contacts import portal_account
from aftercare.saas.environment import production_environment
from aftercare.saas.models import (
    STEP_ORDER,
    Acceptance,
    ChecklistTick,
    Extra,
    LineKind,
    Migration,
    MigrationEvent,
    Offer,
    OfferItem,
    OfferLink,
    State,
    Statement,
    StatementCounter,
    Step,
    default_window,
    totals,
)
from aftercare.saas.zones import zone_for_country
from aftercare.tenancy.models import ContactPerson, Organisation

MANAGE = "saas.manage_migration"
VIEW = "saas.view_migration"
LINK_SALT = "aftercare.saas.offer"


class TransitionError(Exception):
    """Refused: ``message`` says why (out of order, already decided, …)."""

    def __init__(self, message) -> None:
        super().__init__(str(message))
        self.message = message


# -- helpers ----------------------------------------------------------------------------


def _locked(migration: Migration) -> Migration:
    return Migration.objects.select_for_update().get(pk=migration.pk)


def _event(
    migration: Migration,
    actor: User | None,
    action: str,
    *,
    old: str = "",
    new: str = "",
    note: str = "",
    label: str = "",
) -> MigrationEvent:
    return MigrationEvent.objects.create(
        migration=migration,
        organisation_id=migration.organisation_id,
        actor=actor if actor is not None and actor.pk else None,
        actor_label=(label or (actor.display_name if actor is not None else ""))[:254],
        action=action,
        old=old,
        new=new,
        note=note,
    )


def _move(migration: Migration, actor: User | None, new: str, action: str, **kw: Any) -> None:
    old = migration.state
    migration.state = new
    migration.updated_at = timezone.now()
    migration.save(update_fields=["state", "updated_at"])
    _event(migration, actor, action, old=old, new=new, **kw)


def _expect(migration: Migration, *states: str) -> None:
    if migration.state not in states:
        wanted = ", ".join(str(State(s).label) for s in states)
        raise TransitionError(
            _("Not possible while the migration is “%(state)s” (it must be: %(wanted)s).")
            % {"state": migration.get_state_display(), "wanted": wanted}
        )


def _staff(actor: User, migration: Migration | None = None, perm: str = MANAGE) -> PermSet:
    permset = PermSet(actor)
    if not permset.has(perm):
        raise PermissionDenied(_("You may not manage SaaS migrations."))
    if migration is not None and not may_see(permset, migration):
        raise PermissionDenied(_("You may not manage this migration."))
    return permset


def may_see(permset: PermSet, migration: Migration) -> bool:
    """Staff with the view permission: every migration of their organisations; leads
    without an organisation only for agents who serve every customer."""
    if not permset.has(VIEW):
        return False
    restricted = permset.agent_restricted_to
    if restricted is None:
        return True
    return migration.organisation_id is not None and migration.organisation_id in restricted


def is_coordinator(user: User, migration: Migration) -> bool:
    return (
        user.is_authenticated
        and migration.organisation_id is not None
        and PermSet(user).memberships.get(migration.organisation_id) == Role.COORDINATOR
    )


def organisation_for_email(email: str) -> Organisation | None:
    """The one active organisation whose mail domains include the address's domain."""
    domain = email.rpartition("@")[2].strip().lower()
    if not domain:
        return None
    found = [
        o
        for o in Organisation.objects.with_scopes_disabled().filter(
            is_active=True, mail_domains__icontains=domain
        )
        if domain in o.domain_list()
    ]
    return found[0] if len(found) == 1 else None


# -- lead -------------------------------------------------------------------------------


LEAD_FIELDS = (
    "company",
    "contact_name",
    "email",
    "phone",
    "country",
    "product",
    "users",
    "desired_date",
    "message",
    "language",
)


@transaction.atomic
def create_lead(**data: Any) -> Migration:
    """A quote request from the public form (already validated and screened for spam)."""
    migration = Migration(**{k: data[k] for k in LEAD_FIELDS if k in data})
    migration.email = migration.email.strip().lower()
    migration.organisation = organisation_for_email(migration.email)
    migration.save()
    note = migration.organisation.name if migration.organisation else ""
    _event(migration, None, "saas.lead.created", new=State.LEAD, note=note, label=migration.email)
    notify.quote_received(migration)
    return migration


@transaction.atomic
def link_organisation(*, migration: Migration, organisation: Organisation, actor: User) -> None:
    _staff(actor, migration)
    permset = PermSet(actor)
    if permset.agent_restricted_to is not None and organisation.pk not in (
        permset.agent_restricted_to
    ):
        raise PermissionDenied(_("You may not serve this organisation."))
    migration = _locked(migration)
    if migration.state in (State.ACCEPTED, State.INVOICED):
        raise TransitionError(_("An accepted migration cannot move to another organisation."))
    old = migration.organisation.name if migration.organisation else ""
    migration.organisation = organisation
    migration.save(update_fields=["organisation"])
    for model in (Offer, OfferItem, OfferLink, Extra, ChecklistTick, MigrationEvent):
        model.objects.filter(**_owner(model, migration)).update(organisation=organisation)
    _event(migration, actor, "saas.lead.linked", note=f"{old} → {organisation.name}".strip(" →"))


def _owner(model, migration: Migration) -> dict:
    if model is OfferItem:
        return {"offer__migration": migration}
    if model is OfferLink:
        return {"offer__migration": migration}
    return {"migration": migration}


@transaction.atomic
def convert_to_organisation(*, migration: Migration, actor: User, code: str) -> Organisation:
    """A new customer organisation made from the lead (name, country, language, domain)."""
    permset = _staff(actor, migration)
    if not permset.has("tenancy.add_organisation"):
        raise PermissionDenied(_("You may not add organisations."))
    if migration.organisation_id:
        raise TransitionError(_("This lead is already linked to an organisation."))
    if Organisation.objects.filter(name__iexact=migration.company).exists():
        raise TransitionError(
            _("An organisation named %(name)s exists already: link the lead to it.")
            % {"name": migration.company}
        )
    if Organisation.objects.filter(code=code).exists():
        raise ValidationError({"code": _("This short code is taken.")})
    domain = migration.email.rpartition("@")[2]
    org = Organisation(
        name=migration.company,
        code=code,
        language=migration.language,
        mail_domains=domain,
        time_zone=zone_for_country(migration.country),
        **({"country": migration.country} if migration.country else {}),
    )
    org.full_clean()
    org.save()
    ContactPerson.objects.create(
        organisation=org,
        name=migration.contact_name,
        email=migration.email,
        phone=migration.phone,
        is_primary=True,
    )
    link_organisation(migration=migration, organisation=org, actor=actor)
    portal_account(migration, org, actor)
    return org


# -- offers -----------------------------------------------------------------------------


@transaction.atomic
def new_offer(*, migration: Migration, actor: User) -> Offer:
    """A draft revision; it starts with the items and terms of the previous one."""
    _staff(actor, migration)
    migration = _locked(migration)
    _expect(migration, State.LEAD, State.OFFER_SENT, State.DECLINED)
    if migration.offers.filter(status=Offer.Status.DRAFT).exists():
        raise TransitionError(_("There is a draft offer already: edit or send it."))
    previous = migration.offers.order_by("-revision").first()
    offer = Offer.objects.create(
        migration=migration,
        organisation_id=migration.organisation_id,
        revision=(previous.revision + 1) if previous else 1,
        currency=previous.currency if previous else settings.AFTERCARE_SAAS_CURRENCY,
        valid_days=previous.valid_days if previous else 30,
        notes=previous.notes if previous else "",
        created_by=actor,
    )
    if previous is not None:
        for item in previous.items.all():
            item.pk = None
            item.offer = offer
            item.organisation_id = migration.organisation_id
            item.save()
    _event(migration, actor, "saas.offer.drafted", note=offer.number)
    return offer


ITEM_FIELDS = ("description", "quantity", "unit", "unit_price", "vat_rate")


def _item(data: dict) -> dict:
    """An item's fields; ``kind`` (service or licence-model change) defaults to service."""
    row = {k: data[k] for k in ITEM_FIELDS}
    kind = data.get("kind") or LineKind.SERVICE
    if kind not in LineKind.values:
        raise ValidationError({"kind": _("Unknown kind of line.")})
    row["kind"] = kind
    return row


@transaction.atomic
def save_offer(
    *, offer: Offer, actor: User, items: list[dict], currency: str, valid_days: int, notes: str
) -> Offer:
    """Replace a draft's items and terms (each item a dict of ``ITEM_FIELDS``)."""
    _staff(actor, offer.migration)
    offer = Offer.objects.select_for_update().get(pk=offer.pk)
    if offer.status != Offer.Status.DRAFT:
        raise TransitionError(_("A sent offer cannot be changed; make a new revision."))
    offer.currency, offer.valid_days, offer.notes = currency.upper(), valid_days, notes
    offer.save(update_fields=["currency", "valid_days", "notes"])
    offer.items.all().delete()
    for position, data in enumerate(items, start=1):
        OfferItem.objects.create(
            offer=offer,
            organisation_id=offer.organisation_id,
            position=position,
            **_item(data),
        )
    return offer


def offer_context(offer: Offer) -> dict:
    migration = offer.migration
    items = list(offer.items.all())
    return {
        "offer": offer,
        "migration": migration,
        "items": items,
        "totals": totals(items),
        "valid_until": (offer.sent_at or timezone.now()) + timedelta(days=offer.valid_days),
        "vendor": settings.AFTERCARE_SAAS_VENDOR,
        "draft": offer.status == Offer.Status.DRAFT,
        "today": timezone.now(),
    }


def _token(link: OfferLink, nonce: str) -> str:
    return signing.dumps({"l": link.pk, "n": nonce}, salt=LINK_SALT)


def _hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


@transaction.atomic
def send_offer(*, offer: Offer, actor: User) -> Offer:
    """Render the PDF in the customer's language, store it, supersede the previous
    revision and mail it to the contact with a confirm/decline link."""
    _staff(actor, offer.migration)
    migration = _locked(offer.migration)
    _expect(migration, State.LEAD, State.OFFER_SENT, State.DECLINED)
    offer = Offer.objects.select_for_update().get(pk=offer.pk)
    if offer.status != Offer.Status.DRAFT:
        raise TransitionError(_("This offer was sent already; make a new revision."))
    if not offer.items.exists():
        raise TransitionError(_("Add at least one line item before sending the offer."))
    offer.migration = migration
    language = migration.doc_language
    offer.sent_at = timezone.now()
    offer.language = language
    offer.status = Offer.Status.SENT
    pdf = render_pdf("saas/offer_pdf.html", offer_context(offer), language)
    offer.pdf.save(f"offer-{migration.pk}-{offer.revision}.pdf", ContentFile(pdf), save=False)
    offer.save(update_fields=["sent_at", "language", "pdf", "status"])
    superseded = migration.offers.filter(status=Offer.Status.SENT).exclude(pk=offer.pk)
    for old in superseded:
        _event(migration, actor, "saas.offer.superseded", note=old.number)
    superseded.update(status=Offer.Status.SUPERSEDED)
    nonce = secrets.token_urlsafe(24)
    link = OfferLink.objects.create(
        offer=offer,
        organisation_id=migration.organisation_id,
        email=migration.email,
        nonce_hash=_hash(nonce),
    )
    from aftercare.mail import outbound

    url = settings.AFTERCARE_BASE_URL + reverse("quote:offer-link", args=[_token(link, nonce)])
    outbound.queue(
        "offer",
        key=f"offer{offer.pk}:{migration.email}",
        address=migration.email,
        language=language,
        params={"offer": offer.number},
        body=offer.notes,
        extra={"offer_link": url, "offer": offer},
        attachment=offer.pdf.name,
    )
    _move(migration, actor, State.OFFER_SENT, "saas.offer.sent", note=offer.number)
    return offer


def link_for_token(token: str) -> OfferLink:
    try:
        data = signing.loads(token, salt=LINK_SALT)
        link = OfferLink.objects.select_related("offer", "offer__migration").get(pk=int(data["l"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError, OfferLink.DoesNotExist):
        raise TransitionError(_("This link is not valid.")) from None
    if not secrets.compare_digest(link.nonce_hash, _hash(str(data.get("n", "")))):
        raise TransitionError(_("This link is not valid."))
    return link


@transaction.atomic
def decide_offer(
    *,
    offer: Offer,
    confirm: bool,
    via: str,
    user: User | None = None,
    email: str = "",
    note: str = "",
    link: OfferLink | None = None,
) -> Offer:
    """The customer confirms or declines the current offer.

    In the portal only a coordinator of the migration's organisation decides; by the
    mail's link whoever holds it (it went to the contact); by a reply the contact's
    address or a coordinator's."""
    migration = _locked(offer.migration)
    offer = Offer.objects.select_for_update().get(pk=offer.pk)
    if via == Offer.Via.PORTAL and (user is None or not is_coordinator(user, migration)):
        raise PermissionDenied(_("Only a coordinator of your organisation can decide on offers."))
    if link is not None:
        link = OfferLink.objects.select_for_update().get(pk=link.pk)
        if link.used_at is not None:
            raise TransitionError(_("This link was already used."))
    if offer.status == Offer.Status.SUPERSEDED:
        raise TransitionError(_("This offer was replaced by a newer revision."))
    if offer.status != Offer.Status.SENT:
        raise TransitionError(
            _("This offer was already answered: %(status)s.")
            % {"status": offer.get_status_display()}
        )
    _expect(migration, State.OFFER_SENT)
    if offer.sent_at and timezone.now() > offer.sent_at + timedelta(days=offer.valid_days):
        raise TransitionError(_("This offer has expired. Ask us for a new one."))
    if link is not None:
        link.used_at = timezone.now()
        link.save(update_fields=["used_at"])
    offer.status = Offer.Status.CONFIRMED if confirm else Offer.Status.DECLINED
    offer.decided_at = timezone.now()
    offer.decided_by = user
    offer.decided_by_name = (user.display_name if user else email)[:254]
    offer.decided_via = via
    offer.decision_note = note.strip()[:2000]
    offer.save()
    summary = _("%(offer)s — via %(via)s") % {
        "offer": offer.number,
        "via": offer.get_decided_via_display(),
    }
    if offer.decision_note:
        summary += f"\n{offer.decision_note}"
    _move(
        migration,
        user,
        State.CONFIRMED if confirm else State.DECLINED,
        "saas.offer.confirmed" if confirm else "saas.offer.declined",
        note=summary,
        label=offer.decided_by_name,
    )
    offer.migration = migration
    notify.offer_decided(offer)
    return offer


def decide_by_token(*, token: str, confirm: bool, note: str = "") -> Offer:
    link = link_for_token(token)
    return decide_offer(
        offer=link.offer,
        confirm=confirm,
        via=Offer.Via.LINK,
        email=link.email,
        note=note,
        link=link,
    )


def note_unclear_reply(*, offer: Offer, email: str, text: str) -> MigrationEvent:
    """A reply to the offer mail that is neither a clear yes nor a clear no: nothing is
    decided; the migration's history shows it so the agent asks the customer."""
    return _event(
        offer.migration,
        None,
        "saas.offer.reply_unclear",
        note=f"{offer.number}: “{text.strip()[:300]}”",
        label=email[:254],
    )


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give a reason: it is kept in the history.")})
    return reason[:1000]


@transaction.atomic
def undo_offer_decision(*, offer: Offer, actor: User, reason: str) -> Offer:
    """Staff take back a customer's answer (confirmed or declined) that was wrong, e.g. a
    reply read the wrong way: the offer is sent (waiting for an answer) again and the
    migration back at "offer sent". Who had decided, how and when stays in the history
    with the reason; the customer can answer again in the portal or by replying."""
    check_writable()
    _staff(actor, offer.migration)
    reason = _reason(reason)
    migration = _locked(offer.migration)
    offer = Offer.objects.select_for_update().get(pk=offer.pk)
    if offer.status not in (Offer.Status.CONFIRMED, Offer.Status.DECLINED):
        raise TransitionError(_("Only a confirmed or declined offer can be taken back."))
    wanted = State.CONFIRMED if offer.status == Offer.Status.CONFIRMED else State.DECLINED
    if migration.state != wanted:
        raise TransitionError(
            _(
                "The migration has moved on (“%(state)s”): the answer to the offer cannot be taken back any more."
            )
            % {"state": migration.get_state_display()}
        )
    if migration.offers.filter(status=Offer.Status.SENT).exclude(pk=offer.pk).exists():
        raise TransitionError(_("A newer revision was sent; this answer stays."))
    was = _("%(offer)s was %(status)s by %(who)s via %(via)s on %(when)s.") % {
        "offer": offer.number,
        "status": offer.get_status_display(),
        "who": offer.decided_by_name or "—",
        "via": offer.get_decided_via_display() or "—",
        "when": timezone.localtime(offer.decided_at).strftime("%Y-%m-%d %H:%M")
        if offer.decided_at
        else "—",
    }
    if offer.decision_note:
        was += f"\n{offer.decision_note}"
    offer.status = Offer.Status.SENT
    offer.decided_at = None
    offer.decided_by = None
    offer.decided_by_name = ""
    offer.decided_via = ""
    offer.decision_note = ""
    offer.save(
        update_fields=[
            "status",
            "decided_at",
            "decided_by",
            "decided_by_name",
            "decided_via",
            "decision_note",
        ]
    )
    _move(
        migration,
        actor,
        State.OFFER_SENT,
        "saas.offer.decision_undone",
        note=_("%(was)s\nTaken back: %(reason)s") % {"was": was, "reason": reason},
    )
    return offer


# -- schedule and run ---------------------------------------------------------------------


def run_window(
    migration: Migration,
    scheduled_for: date,
    *,
    start_time: time | None = None,
    ends_on: date | None = None,
    end_time: time | None = None,
    document_archive: bool = False,
) -> tuple[datetime, datetime]:
    """Start and end of the run in the organisation's time zone: by default from 17:00 to
    17:00 the next day, one day more with the document archive."""
    zone = migration.organisation.zone
    starts_at, ends_at = default_window(scheduled_for, zone, document_archive=document_archive)
    if start_time is not None:
        starts_at = datetime.combine(scheduled_for, start_time, tzinfo=zone)
        ends_at = datetime.combine(ends_at.date(), start_time, tzinfo=zone)
    if ends_on is not None:
        ends_at = datetime.combine(
            ends_on, end_time or starts_at.timetz().replace(tzinfo=None), tzinfo=zone
        )
    elif end_time is not None:
        ends_at = datetime.combine(ends_at.date(), end_time, tzinfo=zone)
    return starts_at, ends_at


@transaction.atomic
def schedule(
    *,
    migration: Migration,
    actor: User,
    scheduled_for: date,
    target_site: str,
    training_needs: str = "",
    weekend: bool = False,
    document_archive: bool = False,
    start_time: time | None = None,
    ends_on: date | None = None,
    end_time: time | None = None,
) -> Migration:
    """Plan the run: its day, start and end (organisation's time zone), the target site.
    Never in the past; the end after the start."""
    check_writable()
    _staff(actor, migration)
    migration = _locked(migration)
    _expect(migration, State.CONFIRMED, State.SCHEDULED)
    if migration.organisation_id is None:
        raise TransitionError(
            _(
                "Link the lead to a customer organisation before scheduling: its coordinator accepts the work."
            )
        )
    if not target_site.strip():
        raise ValidationError({"target_site": _("Name the target SaaS site.")})
    zone = migration.organisation.zone
    if scheduled_for < timezone.now().astimezone(zone).date():
        raise ValidationError({"scheduled_for": _("A migration cannot be scheduled in the past.")})
    if weekend and scheduled_for.weekday() < 5:
        raise ValidationError(
            {"scheduled_for": _("A weekend migration must start on a Saturday or Sunday.")}
        )
    starts_at, ends_at = run_window(
        migration,
        scheduled_for,
        start_time=start_time,
        ends_on=ends_on,
        end_time=end_time,
        document_archive=document_archive,
    )
    if ends_at <= starts_at:
        raise ValidationError({"ends_on": _("The run must end after it starts.")})
    migration.scheduled_for = scheduled_for
    migration.starts_at = starts_at
    migration.ends_at = ends_at
    migration.document_archive = document_archive
    migration.target_site = target_site.strip()
    migration.training_needs = training_needs.strip()
    migration.weekend = weekend
    migration.save(
        update_fields=[
            "scheduled_for",
            "starts_at",
            "ends_at",
            "document_archive",
            "target_site",
            "training_needs",
            "weekend",
        ]
    )
    note = "{} → {} ({}) · {}".format(
        starts_at.strftime("%Y-%m-%d %H:%M"),
        ends_at.strftime("%Y-%m-%d %H:%M"),
        migration.organisation.time_zone,
        migration.target_site,
    )
    if migration.state == State.SCHEDULED:
        _event(migration, actor, "saas.migration.rescheduled", note=note)
    else:
        _move(migration, actor, State.SCHEDULED, "saas.migration.scheduled", note=note)
    return migration


def next_step(migration: Migration) -> str | None:
    done = set(migration.ticks.values_list("step", flat=True))
    return next((s for s in STEP_ORDER if s not in done), None)


def _local(moment: datetime, migration: Migration) -> str:
    zone = migration.organisation.zone if migration.organisation_id else UTC
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


@transaction.atomic
def tick(
    *,
    migration: Migration,
    actor: User,
    step: str,
    note: str = "",
    done_at: datetime | None = None,
) -> ChecklistTick:
    """Mark one checklist step done, strictly in order, dated (``done_at``, default now):
    not in the future, not before the scheduled start, not before the previous step. The
    first starts the run, the last (site handed over) hands the migration over."""
    check_writable()
    _staff(actor, migration)
    migration = _locked(migration)
    _expect(migration, State.SCHEDULED, State.IN_PROGRESS)
    if step not in STEP_ORDER:
        raise TransitionError(_("Unknown checklist step."))
    expected = next_step(migration)
    if step != expected:
        if migration.ticks.filter(step=step).exists():
            raise TransitionError(_("This step is done already."))
        raise TransitionError(
            _("Tick “%(previous)s” first: the steps go in order.")
            % {"previous": Step(expected).label}
        )
    now = timezone.now()
    done_at = done_at or now
    if done_at > now + timedelta(minutes=1):
        raise ValidationError({"done_at": _("A step cannot be done in the future.")})
    if migration.starts_at is not None and done_at < migration.starts_at:
        raise ValidationError(
            {
                "done_at": _("A step cannot be done before the run starts (%(start)s).")
                % {"start": _local(migration.starts_at, migration)}
            }
        )
    previous = migration.ticks.order_by("-done_at").first()
    if previous is not None and done_at < previous.done_at:
        raise ValidationError(
            {
                "done_at": _("A step cannot be done before the previous one (%(when)s).")
                % {"when": _local(previous.done_at, migration)}
            }
        )
    row = ChecklistTick.objects.create(
        migration=migration,
        organisation_id=migration.organisation_id,
        step=step,
        done_by=actor,
        done_at=done_at,
        note=note.strip()[:500],
    )
    _event(
        migration,
        actor,
        "saas.checklist.ticked",
        new=step,
        note=f"{_local(done_at, migration)} {row.note}".strip(),
    )
    if migration.state == State.SCHEDULED:
        _move(migration, actor, State.IN_PROGRESS, "saas.migration.started")
    if step == STEP_ORDER[-1]:
        _move(migration, actor, State.HANDED_OVER, "saas.migration.handed_over")
    return row


@transaction.atomic
def untick(*, migration: Migration, actor: User, step: str, reason: str) -> None:
    """Staff take back the last ticked checklist step (ticked by mistake). Only the last
    one, since the steps go in order; not after the customer accepted. Taking back the
    hand-over puts the migration in progress again, taking back the only step puts it back
    to scheduled. The tick (who, when, note) and the reason stay in the history."""
    check_writable()
    _staff(actor, migration)
    reason = _reason(reason)
    migration = _locked(migration)
    _expect(migration, State.IN_PROGRESS, State.HANDED_OVER)
    ticks = {t.step: t for t in migration.ticks.select_related("done_by")}
    last = next((s for s in reversed(STEP_ORDER) if s in ticks), None)
    if step not in ticks:
        raise TransitionError(_("This step is not done."))
    if step != last:
        raise TransitionError(
            _("Take back “%(last)s” first: the steps go in order.") % {"last": Step(last).label}
        )
    row = ticks[step]
    who = row.done_by.display_name if row.done_by else "—"
    when = timezone.localtime(row.done_at).strftime("%Y-%m-%d %H:%M")
    was = _("Ticked by %(who)s on %(when)s.") % {"who": who, "when": when}
    if row.note:
        was += f" {row.note}"
    row.delete()
    _event(
        migration,
        actor,
        "saas.checklist.unticked",
        old=step,
        note=_("%(was)s\nTaken back: %(reason)s") % {"was": was, "reason": reason},
    )
    if migration.state == State.HANDED_OVER:
        _move(migration, actor, State.IN_PROGRESS, "saas.migration.handover_undone")
    elif not migration.ticks.exists():
        _move(migration, actor, State.SCHEDULED, "saas.migration.start_undone")


@transaction.atomic
def accept(
    *, migration: Migration, user: User, name: str, accepted_on: date, comment: str = ""
) -> Acceptance:
    """The organisation's coordinator formally accepts the handed-over site."""
    migration = _locked(migration)
    if not is_coordinator(user, migration):
        raise PermissionDenied(_("Only a coordinator of your organisation can accept the work."))
    if migration.state in (State.ACCEPTED, State.INVOICED):
        raise TransitionError(_("The work was accepted already."))
    if next_step(migration) is not None:
        raise TransitionError(_("The migration checklist is not complete yet."))
    _expect(migration, State.HANDED_OVER)
    if not name.strip():
        raise ValidationError({"name": _("Give the name of the person accepting.")})
    if accepted_on > timezone.localdate():
        raise ValidationError({"accepted_on": _("The date cannot be in the future.")})
    row = Acceptance.objects.create(
        migration=migration,
        organisation_id=migration.organisation_id,
        user=user,
        name=name.strip()[:200],
        accepted_on=accepted_on,
        comment=comment.strip(),
    )
    _move(migration, user, State.ACCEPTED, "saas.migration.accepted", note=row.name)
    environment, created = production_environment(migration, accepted_on)
    _event(
        migration,
        user,
        "saas.environment.created" if created else "saas.environment.updated",
        note=f"{environment.system.name}: {environment.name} · {environment.url or '—'}",
    )
    return row


# -- extras and the final statement ---------------------------------------------------------

EXTRA_STATES = (
    State.CONFIRMED,
    State.SCHEDULED,
    State.IN_PROGRESS,
    State.HANDED_OVER,
    State.ACCEPTED,
)


@transaction.atomic
def add_extra(*, migration: Migration, actor: User, **data: Any) -> Extra:
    _staff(actor, migration)
    migration = _locked(migration)
    _expect(migration, *EXTRA_STATES)
    position = migration.extras.count() + 1
    extra = Extra.objects.create(
        migration=migration,
        organisation_id=migration.organisation_id,
        position=position,
        added_by=actor,
        **_item(data),
    )
    _event(migration, actor, "saas.extra.added", note=extra.description)
    return extra


@transaction.atomic
def remove_extra(*, extra: Extra, actor: User) -> None:
    _staff(actor, extra.migration)
    migration = _locked(extra.migration)
    _expect(migration, *EXTRA_STATES)
    _event(migration, actor, "saas.extra.removed", note=extra.description)
    extra.delete()


def confirmed_offer(migration: Migration) -> Offer | None:
    return migration.offers.filter(status=Offer.Status.CONFIRMED).order_by("-revision").first()


def vendor() -> dict:
    return {
        "name": settings.AFTERCARE_VENDOR_NAME,
        "address": settings.AFTERCARE_VENDOR_ADDRESS,
        "tax_id": settings.AFTERCARE_VENDOR_TAX_ID,
        "bank_account": settings.AFTERCARE_VENDOR_BANK_ACCOUNT,
    }


def statement_context(migration: Migration, statement: Statement | None = None) -> dict:
    offer = confirmed_offer(migration)
    items = list(offer.items.all()) if offer else []
    extras = list(migration.extras.all())
    return {
        "migration": migration,
        "offer": offer,
        "items": items,
        "extras": extras,
        "totals": totals([*items, *extras]),
        "currency": offer.currency if offer else settings.AFTERCARE_SAAS_CURRENCY,
        "acceptance": getattr(migration, "acceptance", None),
        "ticks": list(migration.ticks.select_related("done_by")),
        "issued_at": statement.issued_at if statement else timezone.now(),
        "vendor": settings.AFTERCARE_SAAS_VENDOR,
        "legal": vendor(),
        "statement": statement,
        "payment_days": settings.AFTERCARE_PAYMENT_TERMS_DAYS,
        "zone": migration.organisation.zone if migration.organisation_id else UTC,
    }


def _next_number(year: int) -> int:
    """The next invoice number of ``year``: its counter row is locked until commit, so
    numbers are unique and without gaps (a rolled-back statement gives its number back)."""
    StatementCounter.objects.get_or_create(year=year)
    counter = StatementCounter.objects.select_for_update().get(year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return counter.last


@transaction.atomic
def issue_statement(*, migration: Migration, actor: User) -> Statement:
    """The final statement of the work (the invoice), as a PDF with an invoice number
    (sequential per year), the vendor's legal details and the payment terms; it is
    mailed to the customer's people with the PDF attached. The migration is then
    invoiced."""
    check_writable()
    _staff(actor, migration)
    migration = _locked(migration)
    _expect(migration, State.ACCEPTED)
    issued_at = timezone.now()
    year = timezone.localtime(issued_at).year
    row = Statement(
        migration=migration,
        organisation_id=migration.organisation_id,
        issued_by=actor,
        issued_at=issued_at,
        year=year,
        sequence=_next_number(year),
        due_on=timezone.localtime(issued_at).date()
        + timedelta(days=settings.AFTERCARE_PAYMENT_TERMS_DAYS),
    )
    context = statement_context(migration, row)
    row.currency = context["currency"]
    row.net = context["totals"]["net"]
    row.vat = context["totals"]["vat"]
    row.gross = context["totals"]["gross"]
    pdf = render_pdf("saas/statement_pdf.html", context, migration.doc_language)
    row.pdf.save(f"statement-{row.number}.pdf", ContentFile(pdf), save=False)
    row.save()
    _move(
        migration,
        actor,
        State.INVOICED,
        "saas.statement.issued",
        note=f"{row.number} · {row.gross} {row.currency}",
    )
    row.migration = migration
    notify.statement_issued(row)
    return row
