"""The support regulation's workflow, declared once as data.

``transition()`` in ``services`` is the only code that changes a ticket's status, and it
consults only this table; views offer exactly the moves ``allowed_transitions`` returns.

Roles: ``customer`` is the reporter (or a coordinator) of the ticket's organisation,
``coordinator`` a customer coordinator, the others staff roles; ``system`` is the
scheduler (auto-archive) and the reply service (customer answered a waiting ticket);
``worker`` is the staff member who did the work on that request (its assignee, or the only
staff member who answered on an unassigned one, see ``PermSet.did_the_work``): whoever
did the work moves it to Done and Released, so L1 closes what L1 solved.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from aftercare.accounts.roles import WORKER, Role
from aftercare.desk.models import Status

SYSTEM = "system"

STAFF = frozenset({Role.OPERATOR, Role.CONSULTANT, Role.DEVELOPER, Role.MANAGER, Role.ADMIN})
TRIAGE = frozenset({Role.OPERATOR, Role.CONSULTANT, Role.MANAGER, Role.ADMIN})
SOLVERS = frozenset({Role.CONSULTANT, Role.DEVELOPER, Role.MANAGER, Role.ADMIN})
# The regulation: Done and Released by whoever did the work, besides the solvers.
SOLVED_BY = SOLVERS | {WORKER}
LEADS = frozenset({Role.CONSULTANT, Role.MANAGER, Role.ADMIN})
CUSTOMERS = frozenset({Role.CUSTOMER, Role.COORDINATOR})


class SlaEffect:
    """What a transition does to the SLA clocks (applied by the SLA engine)."""

    NONE = ""
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    RESTART = "restart"


@dataclass(frozen=True)
class Rule:
    source: str
    target: str
    roles: frozenset[str]
    label: object  # lazy string: the button text
    reason_required: bool = False
    approval_required: bool = False
    sla: str = SlaEffect.NONE


def _r(source, target, roles, label, **kw) -> Rule:
    return Rule(source, target, frozenset(roles), label, **kw)


S = Status
RULES: tuple[Rule, ...] = (
    # Planning: L1 registers into Backlog, plans into the two-week Sprint.
    _r(S.BACKLOG, S.SPRINT, TRIAGE, _("Plan into sprint")),
    _r(S.BACKLOG, S.IN_PROGRESS, SOLVED_BY, _("Start work")),
    _r(S.BACKLOG, S.WAITING, STAFF, _("Ask the customer"), sla=SlaEffect.PAUSE),
    _r(S.BACKLOG, S.REJECTED, TRIAGE, _("Reject"), reason_required=True, sla=SlaEffect.STOP),
    _r(S.SPRINT, S.BACKLOG, TRIAGE, _("Back to backlog")),
    _r(S.SPRINT, S.IN_PROGRESS, SOLVED_BY, _("Start work")),
    _r(S.SPRINT, S.WAITING, STAFF, _("Ask the customer"), sla=SlaEffect.PAUSE),
    _r(S.SPRINT, S.REJECTED, TRIAGE, _("Reject"), reason_required=True, sla=SlaEffect.STOP),
    # Work.
    _r(S.IN_PROGRESS, S.WAITING, STAFF, _("Ask the customer"), sla=SlaEffect.PAUSE),
    _r(S.IN_PROGRESS, S.DONE, SOLVED_BY, _("Mark done")),
    _r(S.IN_PROGRESS, S.SPRINT, LEADS, _("Back to sprint")),
    _r(S.IN_PROGRESS, S.BACKLOG, LEADS, _("Back to backlog")),
    _r(S.IN_PROGRESS, S.REJECTED, LEADS, _("Reject"), reason_required=True, sla=SlaEffect.STOP),
    # Waiting for the customer: the clock is paused until someone moves it on.
    _r(S.WAITING, S.IN_PROGRESS, STAFF | {SYSTEM}, _("Resume work"), sla=SlaEffect.RESUME),
    _r(S.WAITING, S.SPRINT, STAFF | {SYSTEM}, _("Back to sprint"), sla=SlaEffect.RESUME),
    _r(S.WAITING, S.BACKLOG, STAFF | {SYSTEM}, _("Back to backlog"), sla=SlaEffect.RESUME),
    _r(S.WAITING, S.REJECTED, TRIAGE, _("Reject"), reason_required=True, sla=SlaEffect.STOP),
    # Delivery.
    _r(S.DONE, S.RELEASED, SOLVED_BY | {SYSTEM}, _("Release"), sla=SlaEffect.STOP),
    # A deployment to the customer's production delivers what it carries, wherever the
    # request stands (``desk.services.deliver``; never offered as a button).
    *(
        _r(source, S.RELEASED, {SYSTEM}, _("Delivered by a deployment"), sla=SlaEffect.STOP)
        for source in (S.BACKLOG, S.SPRINT, S.IN_PROGRESS, S.WAITING)
    ),
    _r(S.DONE, S.IN_PROGRESS, SOLVED_BY, _("Rework")),
    # The customer checks the result: accept, or reopen with a reason.
    _r(S.RELEASED, S.ARCHIVED, CUSTOMERS | {Role.MANAGER, Role.ADMIN, SYSTEM}, _("Accept")),
    _r(
        S.RELEASED,
        S.IN_PROGRESS,
        CUSTOMERS | LEADS,
        _("Reopen"),
        reason_required=True,
        sla=SlaEffect.RESTART,
    ),
    _r(
        S.RELEASED,
        S.SPRINT,
        CUSTOMERS | LEADS,
        _("Reopen into sprint"),
        reason_required=True,
        sla=SlaEffect.RESTART,
    ),
    # A rejected request can be taken back by the desk.
    _r(
        S.REJECTED,
        S.BACKLOG,
        {Role.MANAGER, Role.ADMIN, Role.OPERATOR},
        _("Take back"),
        reason_required=True,
        sla=SlaEffect.RESTART,
    ),
)

_BY_PAIR = {(r.source, r.target): r for r in RULES}


class TransitionError(Exception):
    """A move the workflow does not allow; ``message`` is shown to the user."""

    def __init__(self, message) -> None:
        super().__init__(str(message))
        self.message = message


def rule_for(source: str, target: str) -> Rule | None:
    return _BY_PAIR.get((source, target))


def allowed_transitions(status: str, roles: frozenset[str]) -> list[Rule]:
    return [r for r in RULES if r.source == status and r.roles & roles]


def check(source: str, target: str, roles: frozenset[str], reason: str = "") -> Rule:
    """Return the rule for the move or raise ``TransitionError`` saying why not."""
    rule = rule_for(source, target)
    if rule is None or (rule.roles == {SYSTEM} and SYSTEM not in roles):
        # A move only the system makes (delivery by a deployment) is no move for people.
        raise TransitionError(
            _("A request cannot move from “%(source)s” to “%(target)s”.")
            % {"source": Status(source).label, "target": Status(target).label}
        )
    if not rule.roles & roles:
        raise TransitionError(
            _("You may not move this request from “%(source)s” to “%(target)s”.")
            % {"source": Status(source).label, "target": Status(target).label}
        )
    if rule.reason_required and not reason.strip():
        raise TransitionError(_("Please give a reason for this change."))
    return rule
