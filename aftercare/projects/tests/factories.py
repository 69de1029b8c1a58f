"""Helpers that walk a plan through the real services."""

from __future__ import annotations

from aftercare.projects import services
from aftercare.projects.models import Project, Side, SignOff, Stage


def meet_all(stage: Stage, actor) -> None:
    services.set_criteria(
        stage=stage, actor=actor, met_ids=stage.criteria.values_list("pk", flat=True)
    )


def close_through(project: Project, actor, last_position: int) -> None:
    """Meet every criterion of stages 1..last_position and close them in order.

    Target users get their credentials and then their login test (in that order, as the
    rules want) when a stage has a computed criterion about them.
    """
    stages = project.stages.filter(position__lte=last_position, closed_at__isnull=True)
    for stage in stages.order_by("position"):
        if stage.criteria.filter(rule__in=["logins_tested", "credentials_distributed"]).exists():
            if not project.participants.filter(is_target_user=True).exists():
                services.add_participant(
                    project=project, actor=actor, name="Key User", side=Side.CUSTOMER
                )
            for p in project.participants.filter(credentials_at__isnull=True):
                services.mark_participant(participant=p, actor=actor, what="credentials")
            for p in project.participants.filter(login_tested_at__isnull=True):
                services.mark_participant(participant=p, actor=actor, what="login")
        meet_all(stage, actor)
        services.close_stage(stage=stage, actor=actor)


def sign_both(project: Project, vendor, coordinator, kind: str = SignOff.Kind.PLAN) -> None:
    """The vendor's manager and the customer's coordinator sign (the plan by default)."""
    project.refresh_from_db()
    services.sign_off(project=project, actor=vendor, kind=kind)
    services.sign_off(project=project, actor=coordinator, kind=kind)
    project.refresh_from_db()
