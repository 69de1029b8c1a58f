"""Reading the three payload formats into one shape, ``Alert``.

Nothing here touches the database: a payload is parsed and validated completely before
any row is written, so a bad alert in a batch is refused with a clear reason and costs
no lock. Every loop is bounded (``MAX_ALERTS``, ``MAX_LABELS``), every string cut.

* **Alertmanager** (webhook ``version`` "4"): ``alerts[]`` with ``status``, ``labels``,
  ``annotations``, ``startsAt``, ``endsAt``, ``generatorURL``, ``fingerprint``.
* **Zabbix** (a webhook media type whose script posts its parameters as JSON): keys as
  the macros are named (``EVENT.ID``, ``EVENT.VALUE``…) or in snake case (``event_id``).
* **Generic**: Aftercare's own documented shape (``docs/monitoring.md``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from aftercare.alerts.models import SEVERITY_ORDER, Severity

MAX_ALERTS = 500  # per request
MAX_LABELS = 100  # per alert
MAX_TEXT = 4000  # characters kept of any one text
FINGERPRINT_MAX = 200

# Names people and tools use for each severity, read case-insensitively.
SEVERITY_ALIASES = {
    Severity.CRITICAL: ("critical", "disaster", "fatal", "emergency", "page", "p1", "sev1", "5"),
    Severity.HIGH: ("high", "error", "major", "p2", "sev2", "4"),
    Severity.AVERAGE: ("average", "medium", "moderate", "p3", "sev3", "3"),
    Severity.WARNING: ("warning", "warn", "minor", "low", "p4", "sev4", "2"),
    Severity.INFO: (
        "info",
        "information",
        "informational",
        "not classified",
        "notice",
        "none",
        "ok",
        "debug",
        "p5",
        "1",
        "0",
    ),
}
_SEVERITY = {alias: sev.value for sev, names in SEVERITY_ALIASES.items() for alias in names}
TRUE = {"1", "true", "yes", "on"}


class FormatError(Exception):
    """The payload (or one alert of it) cannot be read; ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Alert:
    fingerprint: str
    firing: bool
    severity: str
    summary: str
    details: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    links: list[str] = field(default_factory=list)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    # An environment the alert names itself (id or name), besides its labels.
    environment: str = ""
    downtime: bool = False
    source: str = ""
    # Zabbix problem updates (acknowledgements) change nothing here.
    update_only: bool = False
    excerpt: str = ""
    kind: str = ""  # the payload format it came in


def severity_of(value, *, strict: bool = False) -> str:
    key = str(value if value is not None else "").strip().lower()
    if key in _SEVERITY:
        return _SEVERITY[key]
    if strict:
        raise FormatError(
            _("Unknown severity “%(value)s”; use one of: %(known)s.")
            % {"value": str(value)[:50], "known": ", ".join(reversed(SEVERITY_ORDER))}
        )
    return Severity.WARNING


def at_least(severity: str, threshold: str) -> bool:
    return SEVERITY_ORDER.index(severity) >= SEVERITY_ORDER.index(threshold)


def _text(value, limit: int = MAX_TEXT) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False, default=str)
    return value.replace("\x00", "")[:limit]


def _mapping(value, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FormatError(_("“%(field)s” must be an object.") % {"field": what})
    if len(value) > MAX_LABELS:
        raise FormatError(
            _("“%(field)s” has more than %(n)d entries.") % {"field": what, "n": MAX_LABELS}
        )
    return {_text(k, 100): _text(v, 1000) for k, v in value.items()}


def _when(value, what: str) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise FormatError(_("“%(field)s” is not a time.") % {"field": what}) from None
    try:
        parsed = parse_datetime(str(value))
    except ValueError:
        parsed = None
    if parsed is None:
        raise FormatError(
            _("“%(field)s” is not an ISO 8601 time (2026-01-31T08:00:00Z).") % {"field": what}
        )
    if parsed.tzinfo is None:
        raise FormatError(_("“%(field)s” needs a time zone (Z or +02:00).") % {"field": what})
    if parsed.year <= 1:
        return None  # Alertmanager's "0001-01-01T00:00:00Z": no end yet
    return parsed


def _fingerprint(value, fallback: dict) -> str:
    text = _text(value, FINGERPRINT_MAX).strip()
    if text:
        return text
    canonical = json.dumps(fallback, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _excerpt(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)[:1500]


def _objects(data, what: str) -> list:
    if not isinstance(data, list):
        raise FormatError(_("“%(field)s” must be a list.") % {"field": what})
    if not data:
        raise FormatError(_("“%(field)s” is empty.") % {"field": what})
    if len(data) > MAX_ALERTS:
        raise FormatError(
            _("At most %(n)d alerts per request; split the batch.") % {"n": MAX_ALERTS}
        )
    for item in data:
        if not isinstance(item, dict):
            raise FormatError(_("Every entry of “%(field)s” must be an object.") % {"field": what})
    return data


# -- Prometheus Alertmanager ---------------------------------------------------------------


def alertmanager(data) -> list[Alert]:
    if not isinstance(data, dict):
        raise FormatError(_("An Alertmanager webhook body is a JSON object."))
    version = str(data.get("version", ""))
    if version != "4":
        raise FormatError(
            _("Only version 4 of the Alertmanager webhook is understood (got “%(v)s”).")
            % {"v": version[:20]}
        )
    common_annotations = data.get("commonAnnotations") or {}
    external = _text(data.get("externalURL"), 500)
    alerts = []
    for index, raw in enumerate(_objects(data.get("alerts"), "alerts")):
        where = f"alerts[{index}]"
        status = raw.get("status")
        if status not in ("firing", "resolved"):
            raise FormatError(
                _("%(where)s: “status” must be “firing” or “resolved”.") % {"where": where}
            )
        labels = _mapping(raw.get("labels"), f"{where}.labels")
        annotations = _mapping(raw.get("annotations"), f"{where}.annotations")
        if not annotations and isinstance(common_annotations, dict):
            annotations = _mapping(common_annotations, "commonAnnotations")
        name = labels.get("alertname", "")
        summary = annotations.get("summary") or annotations.get("description") or name
        if not summary:
            raise FormatError(
                _("%(where)s: no “alertname” label and no summary annotation.") % {"where": where}
            )
        links = [u for u in (_text(raw.get("generatorURL"), 500), external) if u]
        links += [v for k, v in annotations.items() if k in ("runbook_url", "dashboard_url")]
        alerts.append(
            Alert(
                fingerprint=_fingerprint(raw.get("fingerprint"), labels),
                firing=status == "firing",
                severity=severity_of(labels.get("severity") or labels.get("priority")),
                summary=summary,
                details=annotations.get("description", ""),
                labels=labels,
                annotations=annotations,
                links=links,
                starts_at=_when(raw.get("startsAt"), f"{where}.startsAt"),
                ends_at=_when(raw.get("endsAt"), f"{where}.endsAt"),
                downtime=labels.get("downtime", "").lower() in TRUE,
                source=_text(data.get("receiver"), 100) or "alertmanager",
                excerpt=_excerpt(raw),
            )
        )
    return alerts


# -- Zabbix --------------------------------------------------------------------------------

ZABBIX_PROBLEM = {"1", "problem"}
ZABBIX_RECOVERY = {"0", "ok", "resolved", "recovery"}


def _zabbix_keys(raw: dict) -> dict:
    """``EVENT.ID``, ``event.id``, ``event_id`` and ``eventId`` all become ``event_id``."""
    out = {}
    for key, value in raw.items():
        name = str(key).strip().strip("{}").replace(".", "_").replace("-", "_")
        out[name.lower()] = value
    return out


def _zabbix_tags(value) -> dict[str, str]:
    """``{EVENT.TAGS}`` is "key:value, key2:value2"; a JSON list or object is read too."""
    tags: dict[str, str] = {}
    if isinstance(value, dict):
        return _mapping(value, "event_tags")
    if isinstance(value, list):
        for item in value[:MAX_LABELS]:
            if isinstance(item, dict) and "tag" in item:
                tags[_text(item["tag"], 100)] = _text(item.get("value"), 1000)
        return tags
    for part in _text(value).split(",")[:MAX_LABELS]:
        key, _sep, val = part.partition(":")
        if key.strip():
            tags[key.strip()[:100]] = val.strip()[:1000]
    return tags


def _zabbix_time(fields: dict, zone: ZoneInfo, prefix: str) -> datetime | None:
    stamp = fields.get(f"{prefix}_timestamp")
    if stamp not in (None, ""):
        try:
            return datetime.fromtimestamp(int(str(stamp)), tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise FormatError(
                _("“%(field)s” is not a Unix time.") % {"field": f"{prefix}_timestamp"}
            ) from None
    day, clock = fields.get(f"{prefix}_date"), fields.get(f"{prefix}_time")
    if not day or not clock:
        return None
    try:
        local = datetime.strptime(f"{day} {clock}", "%Y.%m.%d %H:%M:%S")
    except ValueError:
        raise FormatError(
            _("“%(field)s” must be Zabbix's yyyy.mm.dd with hh:mm:ss.")
            % {"field": f"{prefix}_date"}
        ) from None
    return local.replace(tzinfo=zone)


def zabbix(data, zone: ZoneInfo) -> list[Alert]:
    items = data if isinstance(data, list) else [data]
    alerts = []
    for index, raw in enumerate(_objects(items, "body")):
        fields = _zabbix_keys(raw)
        where = f"[{index}]" if isinstance(data, list) else ""
        event_id = _text(fields.get("event_id"), 100).strip()
        if not event_id:
            raise FormatError(_("%(where)s“event_id” ({EVENT.ID}) is required.") % {"where": where})
        value = str(fields.get("event_value", "")).strip().lower()
        status = str(fields.get("event_status", "")).strip().lower()
        if value in ZABBIX_PROBLEM or (not value and status in ZABBIX_PROBLEM):
            firing = True
        elif value in ZABBIX_RECOVERY or (not value and status in ZABBIX_RECOVERY):
            firing = False
        else:
            raise FormatError(
                _(
                    "%(where)s“event_value” must be 1 (problem) or 0 (recovery), or "
                    "“event_status” PROBLEM or RESOLVED."
                )
                % {"where": where}
            )
        if fields.get("event_severity") not in (None, ""):
            severity = severity_of(fields["event_severity"], strict=True)
        else:
            severity = severity_of(fields.get("event_nseverity") or fields.get("trigger_nseverity"))
        host = _text(fields.get("host_name") or fields.get("host_host") or fields.get("host"), 200)
        name = _text(fields.get("event_name") or fields.get("trigger_name"), 250)
        if not name:
            raise FormatError(
                _("%(where)s“trigger_name” or “event_name” is required.") % {"where": where}
            )
        tags = _zabbix_tags(fields.get("event_tags"))
        labels = {**tags, "host": host} if host else dict(tags)
        trigger = _text(fields.get("trigger_id"), 100).strip()
        fingerprint = _text(fields.get("fingerprint"), FINGERPRINT_MAX).strip() or (
            f"zabbix:{trigger}:{host}" if trigger else f"zabbix:event:{event_id}"
        )
        links = [
            _text(fields.get(k), 500)
            for k in ("event_url", "trigger_url", "zabbix_url")
            if fields.get(k)
        ]
        details = "\n".join(
            t
            for t in (
                _text(fields.get("alert_message") or fields.get("message")),
                _text(fields.get("event_opdata")),
                _text(fields.get("trigger_description")),
            )
            if t
        )
        alerts.append(
            Alert(
                fingerprint=fingerprint[:FINGERPRINT_MAX],
                firing=firing,
                severity=severity,
                summary=f"{name} ({host})" if host and host not in name else name,
                details=details,
                labels=labels,
                links=links,
                starts_at=_zabbix_time(fields, zone, "event"),
                ends_at=None if firing else _zabbix_time(fields, zone, "event_recovery"),
                environment=_text(fields.get("environment") or tags.get("environment"), 200),
                downtime=str(fields.get("downtime", tags.get("downtime", ""))).lower() in TRUE,
                source="zabbix",
                update_only=str(fields.get("event_update_status", "0")).strip() == "1",
                excerpt=_excerpt(raw),
            )
        )
    return alerts


# -- generic -------------------------------------------------------------------------------


def generic(data) -> list[Alert]:
    items = data if isinstance(data, list) else [data]
    alerts = []
    for index, raw in enumerate(_objects(items, "body")):
        where = f"[{index}] " if isinstance(data, list) else ""
        status = raw.get("status", "firing")
        if status not in ("firing", "resolved"):
            raise FormatError(
                _("%(where)s“status” must be “firing” or “resolved”.") % {"where": where}
            )
        summary = _text(raw.get("summary"), 250).strip()
        if not summary:
            raise FormatError(_("%(where)s“summary” is required.") % {"where": where})
        labels = _mapping(raw.get("labels"), "labels")
        source = _text(raw.get("source"), 100)
        environment = raw.get("environment")
        if isinstance(environment, bool) or not isinstance(environment, str | int | type(None)):
            raise FormatError(
                _("%(where)s“environment” must be an id or a name.") % {"where": where}
            )
        links = raw.get("links") or []
        if not isinstance(links, list):
            raise FormatError(_("%(where)s“links” must be a list.") % {"where": where})
        downtime = raw.get("downtime", False)
        alerts.append(
            Alert(
                fingerprint=_fingerprint(
                    raw.get("fingerprint"), {"source": source, "summary": summary, **labels}
                ),
                firing=status == "firing",
                severity=severity_of(raw.get("severity", "warning"), strict=True),
                summary=summary,
                details=_text(raw.get("details")),
                labels=labels,
                links=[_text(u, 500) for u in links[:20]],
                starts_at=_when(raw.get("starts_at"), "starts_at"),
                ends_at=_when(raw.get("ends_at"), "ends_at"),
                environment="" if environment is None else str(environment)[:200],
                downtime=downtime is True or str(downtime).lower() in TRUE,
                source=source or "generic",
                excerpt=_excerpt(raw),
            )
        )
    return alerts


def parse(fmt: str, data, zone: ZoneInfo) -> list[Alert]:
    if fmt == "alertmanager":
        alerts = alertmanager(data)
    elif fmt == "zabbix":
        alerts = zabbix(data, zone)
    else:
        alerts = generic(data)
    for alert in alerts:
        alert.kind = fmt
    return alerts
