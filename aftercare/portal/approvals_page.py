"""The reads behind the portal's approvals list and badge.

Who may answer is decided in ``desk.approvals`` (coordinators, else the reporter); this
module only lists what the person may see, through ``visible_tickets``, so a teammate
never sees the approvals of someone else's request and an outsider sees nothing.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from aftercare.accounts.roles import PermSet, Role
from aftercare.desk.models import Approval
from aftercare.desk.querysets import visible_tickets
from aftercare.tenancy.models import Membership

RECENT_DAYS = 30
RECENT_LIMIT = 50


def pending_count(permset: PermSet) -> int:
    """Approvals waiting for one of this person's organisations, as coordinator."""
    if not permset.is_authenticated or permset.is_agent or not permset.coordinator_of:
        return 0
    return Approval.objects.filter(
        organisation_id__in=permset.coordinator_of,
        state=Approval.State.PENDING,
        expires_at__gt=timezone.now(),
    ).count()


def visible(permset: PermSet) -> QuerySet[Approval]:
    return Approval.objects.filter(ticket__in=visible_tickets(permset)).select_related(
        "ticket", "ticket__reporter", "requested_by", "decided_by", "organisation"
    )


def listing(permset: PermSet) -> tuple[list[Approval], list[Approval]]:
    """Pending (oldest first: they expire first), then the ones answered recently."""
    now = timezone.now()
    pending = list(
        visible(permset)
        .filter(state=Approval.State.PENDING, expires_at__gt=now)
        .order_by("expires_at", "pk")
    )
    answered = list(
        visible(permset)
        .exclude(state=Approval.State.PENDING)
        .filter(requested_at__gte=now - timedelta(days=RECENT_DAYS))
        .order_by("-decided_at", "-requested_at")[:RECENT_LIMIT]
    )
    expired = list(
        visible(permset)
        .filter(state=Approval.State.PENDING, expires_at__lte=now)
        .filter(expires_at__gte=now - timedelta(days=RECENT_DAYS))
        .order_by("-expires_at")[:RECENT_LIMIT]
    )
    return pending, sorted(
        answered + expired, key=lambda a: a.decided_at or a.expires_at, reverse=True
    )[:RECENT_LIMIT]


def decidable(permset: PermSet, rows: list[Approval]) -> set[int]:
    """The approvals this person may answer, without a query per row.

    Mirrors ``desk.approvals.approvers``: an organisation's coordinators decide; where it
    has none, the request's reporter does. ``approvals.decide`` checks again.
    """
    orgs = {a.organisation_id for a in rows}
    with_coordinators = set(
        Membership.objects.filter(
            organisation_id__in=orgs, role=Role.COORDINATOR, user__is_active=True
        ).values_list("organisation_id", flat=True)
    )
    mine = set()
    for a in rows:
        if a.organisation_id in with_coordinators:
            if a.organisation_id in permset.coordinator_of:
                mine.add(a.pk)
        elif a.ticket.reporter_id == permset.user.pk:
            mine.add(a.pk)
    return mine
