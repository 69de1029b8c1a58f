from __future__ import annotations

from datetime import date

import pytest

from aftercare.projects.defaults import ensure_default
from aftercare.projects.models import PlanTemplate


@pytest.fixture
def template(db) -> PlanTemplate:
    """The default template the data migration made (re-made after a flush)."""
    ensure_default()
    return PlanTemplate.objects.get(is_default=True)


@pytest.fixture
def project(template, org, manager):
    from aftercare.projects import services

    return services.create_project(
        actor=manager,
        organisation=org,
        name="Alpha ERP go-live",
        go_live_on=date(2030, 6, 1),
        template=template,
    )


@pytest.fixture
def other_project(template, other_org, manager):
    from aftercare.projects import services

    return services.create_project(
        actor=manager,
        organisation=other_org,
        name="Beta WMS go-live",
        go_live_on=date(2030, 7, 1),
        template=template,
    )
