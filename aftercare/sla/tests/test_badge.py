"""The SLA badge of the queue, the board and the request page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from django.template import Context, Template
from django.utils import timezone, translation

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def badge(state, due=None, *, language="en", zone="Europe/Chisinau") -> str:
    ticket = SimpleNamespace(sla_state=state, sla_due_at=due)
    with translation.override(language), timezone.override(zone):
        return Template("{% load sla %}{% sla_badge t now %}").render(
            Context({"t": ticket, "now": NOW})
        )


def test_time_left_with_the_deadline_in_the_readers_zone_as_title():
    html = badge("running", NOW + timedelta(hours=2, minutes=5))
    # 12:05 UTC is 14:05 in Chisinau (winter, +2).
    assert html == '<span class="badge sla-running" title="03/02/2026 2:05 p.m.">2h 5m left</span>'


def test_overdue_turns_the_badge_to_breached_whatever_the_stored_state():
    html = badge("running", NOW - timedelta(days=1, hours=3))
    assert html.startswith('<span class="badge sla-breached" title=')
    assert html.endswith(">overdue 1d 3h</span>")


def test_paused_met_missed_and_none():
    assert badge("paused") == '<span class="badge sla-paused">SLA paused</span>'
    assert badge("met") == '<span class="badge sla-met">SLA met</span>'
    assert badge("breached") == '<span class="badge sla-breached">SLA missed</span>'
    assert badge("") == ""


def test_the_text_and_the_date_follow_the_language():
    assert badge("running", NOW + timedelta(minutes=30), language="fr") == (
        '<span class="badge sla-running" title="02/03/2026 12:30">reste 30 min</span>'
    )
    assert badge("running", NOW + timedelta(minutes=30), language="uk").endswith(
        ">залишилось 30 хв</span>"
    )
