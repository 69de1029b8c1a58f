"""Fixtures shared by the mail tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def alpha(owner, org):
    """The customer ana@alpha.example, whose organisation owns the mail domain alpha.example."""
    owner.email = "ana@alpha.example"
    owner.save()
    org.mail_domains = "alpha.example"
    org.save()
    return owner
