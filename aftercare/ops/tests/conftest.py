from __future__ import annotations

import pytest

from aftercare.ops import maintenance


@pytest.fixture
def maintenance_on(db):
    """Read-only maintenance mode, switched on the way an operator does it."""
    maintenance.switch(True, message="Back at 06:00 UTC.", by="tests")
    yield
    maintenance.forget()
