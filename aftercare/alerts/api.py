"""``/api/v1/alerts/…``: monitoring systems post alerts here with an integration token.

These endpoints never use a person's session or personal API token: the credential is the
integration's own bearer token (``services.authenticate``), so a browser cookie neither
signs anyone in nor needs a CSRF token. Order of checks: token (401), size (413), rate
(429), JSON (400), format (422); the body of a 400/422 is kept for inspection.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from ninja import Router

from aftercare.alerts import services
from aftercare.api.errors import ErrorOut
from aftercare.ops.maintenance import MaintenanceError

router = Router(tags=["alerts"])

ERRORS = {
    400: ErrorOut,
    401: ErrorOut,
    413: ErrorOut,
    422: ErrorOut,
    429: ErrorOut,
    503: ErrorOut,
}

AUTH_NOTE = (
    "Authenticate with the integration's token (`Authorization: Bearer acal_…`, issued in "
    "the console under *Alerts* or with `aftercare alerts-token`); personal tokens and "
    "sessions are not accepted. See docs/monitoring.md."
)


def _error(status: int, code: str, message: str, headers: dict | None = None) -> HttpResponse:
    response = JsonResponse({"code": code, "message": str(message), "fields": {}}, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="aftercare-alerts"'
    return response


def _receive(request: HttpRequest, fmt: str) -> HttpResponse:
    try:
        integration = services.authenticate(request.headers.get("Authorization", ""))
        limit = settings.AFTERCARE_ALERTS_MAX_BYTES
        too_large = services.AlertRefused(
            413,
            "too_large",
            _("The payload is larger than %(limit)d bytes; send smaller batches.")
            % {"limit": limit},
        )
        try:
            declared = int(request.headers.get("Content-Length") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            raise too_large
        services.check_rate(integration)
        body = request.read(limit + 1)
        if len(body) > limit:
            raise too_large
        result = services.receive(integration=integration, fmt=fmt, body=body)
    except services.AlertRefused as exc:
        return _error(exc.status, exc.code, exc.message, exc.headers)
    except MaintenanceError:
        return _error(
            503,
            "maintenance",
            _("The service desk is in maintenance; the alert was not taken. Try again later."),
            {"Retry-After": "300"},
        )
    return JsonResponse(result, status=200)


def _example(body: dict) -> dict:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}, "example": body}},
        }
    }


ALERTMANAGER_EXAMPLE = {
    "version": "4",
    "groupKey": '{}:{alertname="ErpDatabaseDown"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "aftercare",
    "groupLabels": {"alertname": "ErpDatabaseDown"},
    "commonLabels": {"alertname": "ErpDatabaseDown", "severity": "critical"},
    "commonAnnotations": {},
    "externalURL": "http://alertmanager.example:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "ErpDatabaseDown",
                "severity": "critical",
                "environment": "Production",
                "instance": "db1:9187",
            },
            "annotations": {"summary": "The ERP database does not answer"},
            "startsAt": "2026-03-02T07:58:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example:9090/graph?g0.expr=pg_up+%3D%3D+0",
            "fingerprint": "c0ffee5a1e2b3c4d",
        }
    ],
}
ZABBIX_EXAMPLE = {
    "event_id": "8842",
    "event_value": "1",
    "event_status": "PROBLEM",
    "event_severity": "High",
    "event_name": "ERP application server is unreachable",
    "event_date": "2026.03.02",
    "event_time": "09:58:00",
    "event_tags": "environment:Production, service:erp",
    "trigger_id": "23001",
    "trigger_name": "ERP application server is unreachable",
    "host_name": "erp-app-01",
    "event_opdata": "ping loss 100%",
    "zabbix_url": "https://zabbix.example/",
}
GENERIC_EXAMPLE = {
    "source": "uptime-check",
    "fingerprint": "erp-login-page",
    "status": "firing",
    "severity": "critical",
    "environment": "Production",
    "summary": "The ERP login page answers 502",
    "details": "3 checks in a row failed from two locations.",
    "starts_at": "2026-03-02T07:58:00Z",
    "labels": {"service": "erp-web"},
    "links": ["https://status.example/erp"],
}


@router.post(
    "/alerts/alertmanager",
    auth=None,
    response={200: dict, **ERRORS},
    url_name="alerts-alertmanager",
    summary="Receive a Prometheus Alertmanager webhook (version 4)",
    description=AUTH_NOTE,
    openapi_extra=_example(ALERTMANAGER_EXAMPLE),
)
def receive_alertmanager(request: HttpRequest):
    return _receive(request, "alertmanager")


@router.post(
    "/alerts/zabbix",
    auth=None,
    response={200: dict, **ERRORS},
    url_name="alerts-zabbix",
    summary="Receive a Zabbix webhook media type's JSON",
    description=AUTH_NOTE,
    openapi_extra=_example(ZABBIX_EXAMPLE),
)
def receive_zabbix(request: HttpRequest):
    return _receive(request, "zabbix")


@router.post(
    "/alerts/generic",
    auth=None,
    response={200: dict, **ERRORS},
    url_name="alerts-generic",
    summary="Receive an alert in Aftercare's generic JSON",
    description=AUTH_NOTE,
    openapi_extra=_example(GENERIC_EXAMPLE),
)
def receive_generic(request: HttpRequest):
    return _receive(request, "generic")
