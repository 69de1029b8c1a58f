"""The default SLA plan a fresh installation starts with (used by a data migration)."""

from __future__ import annotations

# Business minutes (Mon-Fri 09:00-18:00 = 540 a day). Critical incidents count 24x7.
TARGETS = [
    # priority, first response, resolution, 24x7
    (1, 30, 4 * 60, True),
    (2, 60, 2 * 540, False),
    (3, 4 * 60, 5 * 540, False),
    (4, 540, 10 * 540, False),
]


def ensure_default_plan(plan_model, target_model) -> None:
    """Create the "Standard" plan unless any plan exists (idempotent)."""
    if plan_model.objects.exists():
        return
    plan = plan_model.objects.create(
        name="Standard",
        is_default=True,
        pause_statuses=["waiting"],
        stop_statuses=["done", "released", "archived", "rejected"],
    )
    for priority, first, resolution, always in TARGETS:
        target_model.objects.create(
            plan=plan,
            priority=priority,
            category="",
            first_response_minutes=first,
            resolution_minutes=resolution,
            around_the_clock=always,
        )
