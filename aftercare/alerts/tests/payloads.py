"""Payloads as the senders post them, written from their documentation.

Alertmanager: the webhook_config body, version 4 ("Alertmanager → Configuration →
<webhook_config>"). Zabbix: a webhook media type whose script posts its parameters
(named after the macros {EVENT.ID}, {EVENT.VALUE}, {EVENT.SEVERITY}, …) as JSON.
"""

from __future__ import annotations


def alertmanager(*alerts: dict, status: str = "firing") -> dict:
    return {
        "receiver": "aftercare",
        "status": status,
        "alerts": list(alerts),
        "groupLabels": {"alertname": "ErpDatabaseDown"},
        "commonLabels": {"alertname": "ErpDatabaseDown"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "version": "4",
        "groupKey": '{}/{}:{alertname="ErpDatabaseDown"}',
        "truncatedAlerts": 0,
    }


def am_alert(
    fingerprint: str = "5ef77f1f8a3ecfc8",
    status: str = "firing",
    severity: str = "critical",
    **labels,
) -> dict:
    return {
        "status": status,
        "labels": {
            "alertname": "ErpDatabaseDown",
            "instance": "db1.alpha.example:9187",
            "job": "postgres",
            "severity": severity,
            **labels,
        },
        "annotations": {
            "summary": "The ERP database does not answer",
            "description": "pg_up has been 0 for 2 minutes.",
            "runbook_url": "https://runbooks.example/erp-db",
        },
        "startsAt": "2026-03-02T07:58:00.123Z",
        "endsAt": "2026-03-02T08:20:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=pg_up+%3D%3D+0",
        "fingerprint": fingerprint,
    }


def zabbix(value: str = "1", severity: str = "High", event_id: str = "8842", **extra) -> dict:
    body = {
        "EVENT.ID": event_id,
        "EVENT.VALUE": value,
        "EVENT.STATUS": "PROBLEM" if value == "1" else "RESOLVED",
        "EVENT.SEVERITY": severity,
        "EVENT.NAME": "ERP application server is unreachable",
        "EVENT.DATE": "2026.03.02",
        "EVENT.TIME": "09:58:00",
        "EVENT.TAGS": "service:erp, scope:availability",
        "EVENT.OPDATA": "ping loss 100%",
        "EVENT.UPDATE.STATUS": "0",
        "TRIGGER.ID": "23001",
        "TRIGGER.NAME": "ERP application server is unreachable",
        "HOST.NAME": "erp-app-01",
        "ZABBIX.URL": "https://zabbix.alpha.example/",
    }
    if value == "0":
        body["EVENT.RECOVERY.DATE"] = "2026.03.02"
        body["EVENT.RECOVERY.TIME"] = "10:15:00"
    body.update(extra)
    return body


def generic(status: str = "firing", fingerprint: str = "erp-login", **extra) -> dict:
    return {
        "source": "uptime-check",
        "fingerprint": fingerprint,
        "status": status,
        "severity": "high",
        "summary": "The ERP login page answers 502",
        "details": "3 checks in a row failed.",
        "starts_at": "2026-03-02T07:58:00Z",
        "labels": {"service": "erp-web"},
        "links": ["https://status.example/erp"],
        **extra,
    }
