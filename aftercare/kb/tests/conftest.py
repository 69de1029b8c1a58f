import pytest

from aftercare.accounts.roles import Role
from aftercare.kb.tests.factories import ERP, WMS, article, runs
from aftercare.tenancy.models import AgentRestriction
from aftercare.tenancy.tests.factories import staff


@pytest.fixture
def erp(org):
    """Alpha (``org``) runs the ERP."""
    return runs(org, ERP)


@pytest.fixture
def wms(other_org):
    """Only Beta (``other_org``) runs the WMS."""
    return runs(other_org, WMS)


@pytest.fixture
def erp_article(erp):
    return article(erp, title="Invoice export hangs", body="Restart the export service.")


@pytest.fixture
def wms_article(wms):
    return article(wms, title="Scanner pairing fails", body="Pair the scanner again.")


@pytest.fixture
def internal_article(erp):
    return article(erp, title="Internal runbook for invoices", visibility="internal")


@pytest.fixture
def admin(db):
    return staff(Role.ADMIN, username="admin")


@pytest.fixture
def restricted(operator, org):
    """An operator restricted to Alpha (who runs the ERP, not the WMS)."""
    AgentRestriction.objects.create(user=operator, organisation=org)
    return operator
