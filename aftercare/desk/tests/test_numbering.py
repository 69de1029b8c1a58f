import threading

import pytest
from django.db import connection, connections
from django_scopes import scopes_disabled

from aftercare.desk.models import Ticket, TicketSequence
from aftercare.desk.numbering import allocate_number, format_number
from aftercare.desk.tests.factories import ticket_for


def test_format_is_prefix_year_and_six_digits():
    assert format_number("AC", 2026, 123) == "AC-2026-000123"


@pytest.mark.django_db(transaction=True)
def test_it_refuses_to_allocate_outside_a_transaction():
    with pytest.raises(RuntimeError):
        allocate_number()


@pytest.mark.django_db
def test_a_rolled_back_ticket_gives_its_number_back(owner, org):
    from django.core.exceptions import ValidationError

    first = ticket_for(owner, org)
    with pytest.raises(ValidationError):
        ticket_for(owner, org, subject="")
    second = ticket_for(owner, org)
    assert int(second.number[-6:]) == int(first.number[-6:]) + 1


@pytest.mark.django_db
def test_numbers_restart_each_year(owner, org):
    from datetime import UTC, datetime

    a = ticket_for(owner, org, created_at=datetime(2025, 12, 31, 12, tzinfo=UTC))
    b = ticket_for(owner, org, created_at=datetime(2026, 1, 2, 12, tzinfo=UTC))
    assert a.number == "AC-2025-000001" and b.number == "AC-2026-000001"


@pytest.mark.django_db(transaction=True)
def test_parallel_creators_never_share_a_number(org, owner):
    """Eight threads, each with its own connection, filing at once."""
    if connection.vendor == "sqlite" and "memory" in str(connection.settings_dict["NAME"]):
        pytest.skip("needs a file or server database for several connections")
    threads, errors, per_thread = [], [], 6
    barrier = threading.Barrier(8)

    def create():
        try:
            with scopes_disabled():
                barrier.wait(timeout=30)
                for _ in range(per_thread):
                    ticket_for(owner, org)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    for _ in range(8):
        threads.append(threading.Thread(target=create))
        threads[-1].start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    numbers = list(Ticket.objects.values_list("number", flat=True))
    assert len(numbers) == 8 * per_thread
    assert len(set(numbers)) == len(numbers)
    assert TicketSequence.objects.get().last == 8 * per_thread
