"""Demo data: a monitoring integration for Lumière's production with one alert firing.

Called from ``demo_load`` after ``lifecycle.demo`` (the environments exist). The alert goes
through ``services.receive`` like a real webhook, so the console's alert pages, the incident
it opened and the received-log have something to show. The integration's token is not
kept: issue one with ``aftercare alerts-token --organisation lumiere``.
"""

from __future__ import annotations

import json
from datetime import timedelta

from django.utils import timezone

from aftercare.alerts import services
from aftercare.alerts.models import AlertIntegration
from aftercare.lifecycle.models import Environment
from aftercare.tenancy.models import Organisation


def load(staff: dict) -> None:
    organisation = Organisation.objects.filter(code="lumiere").first()
    if organisation is None or AlertIntegration.objects.filter(organisation=organisation).exists():
        return
    production = Environment.objects.filter(
        organisation=organisation, kind=Environment.Kind.PRODUCTION
    ).first()
    integration, _secret = services.issue(
        organisation=organisation,
        name="Prometheus (Lumière data centre)",
        actor=None,
        environment=production,
        resolve_moves_to_done=True,
    )
    body = {
        "version": "4",
        "status": "firing",
        "receiver": "aftercare",
        "groupLabels": {"alertname": "HighResponseTime"},
        "commonLabels": {"alertname": "HighResponseTime", "severity": "warning"},
        "commonAnnotations": {},
        "externalURL": "https://alertmanager.lumiere.example",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "HighResponseTime",
                    "severity": "warning",
                    "instance": "erp-app-01:9100",
                },
                "annotations": {
                    "summary": "ERP response time above 3 s for 10 minutes",
                    "description": "p95 of the ERP's HTTP answers is 4.2 s (threshold 3 s).",
                },
                "startsAt": (timezone.now() - timedelta(minutes=20)).isoformat(),
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "https://prometheus.lumiere.example/graph",
                "fingerprint": "5f2a9c0d1e7b3a44",
            }
        ],
    }
    services.receive(integration=integration, fmt="alertmanager", body=json.dumps(body).encode())
