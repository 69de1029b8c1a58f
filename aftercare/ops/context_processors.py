from __future__ import annotations

from django.http import HttpRequest

from aftercare.ops import maintenance


def maintenance_state(request: HttpRequest) -> dict:
    """``maintenance`` for the banner in ``templates/base.html`` (cached per process)."""
    return {"maintenance": maintenance.state()}
