"""Contact persons who left: the replacement the customer owes, and the reminder.

The support regulation asks the customer to name a replacement within two working days
of a contact person leaving. ``replacement_due`` counts those days on the organisation's
calendar (its country's holidays, weekends); ``remind_missing_replacements`` mails the
organisation's coordinators, and only them, once a day while a replacement is overdue.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.formats import date_format

from aftercare.accounts.roles import Role
from aftercare.tenancy.models import ContactPerson, Membership, Organisation

REPLACEMENT_WORKING_DAYS = 2


def replacement_due(organisation: Organisation, left_on: date) -> date:
    """The ``REPLACEMENT_WORKING_DAYS``-th working day after ``left_on``."""
    from aftercare.sla.services import business_calendar

    cal = business_calendar(None, organisation)
    day, counted = left_on, 0
    while counted < REPLACEMENT_WORKING_DAYS:
        day += timedelta(days=1)
        holidays = cal.holidays_in([day.year])
        if (cal.week[day.weekday()] or day in cal.extra_working) and day not in holidays:
            counted += 1
    return day


def missing_replacements(organisation_ids=None):
    """Contacts who left and have no named replacement (the console shows them)."""
    rows = ContactPerson.objects.filter(left_on__isnull=False, replaced_by__isnull=True)
    if organisation_ids is not None:
        rows = rows.filter(organisation_id__in=organisation_ids)
    return rows.select_related("organisation").order_by("left_on", "pk")


def remind_missing_replacements(now: datetime | None = None) -> int:
    """Mail each overdue organisation's coordinators; returns the mails queued.

    Once a day per contact: the contact is claimed with a conditional update (reminded
    before today → now), so a repeated or concurrent run sends nothing twice; the outbox
    key (contact, day, coordinator) is a second guard.
    """
    from aftercare.mail import outbound

    now = now or timezone.now()
    queued = 0
    for contact in missing_replacements():
        org = contact.organisation
        today = timezone.localtime(now, org.zone).date()
        due = replacement_due(org, contact.left_on)
        if today <= due:
            continue  # still within the two working days
        start_of_day = datetime.combine(today, datetime.min.time(), tzinfo=org.zone)
        with transaction.atomic():
            claimed = ContactPerson.objects.filter(pk=contact.pk).filter(
                Q(replacement_reminded_at__isnull=True)
                | Q(replacement_reminded_at__lt=start_of_day)
            )
            if not claimed.update(replacement_reminded_at=now):
                continue
            coordinators = Membership.objects.filter(
                organisation=org, role=Role.COORDINATOR, user__is_active=True
            ).select_related("user")
            for membership in coordinators:
                user = membership.user
                with translation.override(user.language or org.language or None):
                    params = {
                        "name": contact.name,
                        "organisation": org.name,
                        "left_on": date_format(contact.left_on),
                        "due": date_format(due),
                    }
                row = outbound.queue(
                    "contact_replacement",
                    key=f"contact-replacement:{contact.pk}:{today.isoformat()}:{user.pk}",
                    user=user,
                    params=params,
                )
                queued += row is not None
    return queued
