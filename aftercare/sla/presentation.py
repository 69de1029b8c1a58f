"""Turn a ``reports.Report`` into what the report template draws (shared by both surfaces)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from aftercare.sla.charts import bars
from aftercare.sla.models import Metric
from aftercare.sla.reports import Report, to_csv
from aftercare.sla.services import format_minutes


def context(report: Report) -> dict:
    sections = []
    for metric, title in (
        (Metric.FIRST_RESPONSE, _("First response")),
        (Metric.RESOLUTION, _("Resolution")),
    ):
        per = report.by_metric[metric]
        times = report.times[metric]
        months = per["month"]
        sections.append(
            {
                "metric": metric,
                "title": title,
                "overall": per["all"][0],
                "overdue": report.overdue.get(metric, 0),
                "median": format_minutes(times["median"]) if times["median"] is not None else "—",
                "p90": format_minutes(times["p90"]) if times["p90"] is not None else "—",
                "month_chart": bars(
                    [
                        (
                            r.label,
                            r.compliance,
                            "—" if r.compliance is None else f"{number_format(r.compliance, 1)} %",
                        )
                        for r in months
                    ],
                    100,
                    warn_below=90,
                ),
                "tables": [
                    {"title": _("By organisation"), "rows": per["organisation"]},
                    {"title": _("By priority"), "rows": per["priority"]},
                    {"title": _("By category"), "rows": per["category"]},
                ],
            }
        )
    top = max((n for _label, n in report.backlog), default=0)
    return {
        "report": report,
        "sections": sections,
        "backlog_chart": bars([(label, n, str(n)) for label, n in report.backlog], top or 1),
    }


def csv_response(report: Report, *, bom: bool = True) -> HttpResponse:
    """The report as a UTF-8 CSV download, with a byte-order mark unless ``bom=False``.

    Excel opens a CSV without a BOM in the machine's ANSI code page, which mangles
    Romanian diacritics and Cyrillic; the download button is for people, so the BOM is
    the default. Scripts read it with ``utf-8-sig`` or ask for ``?bom=0``.
    """
    body = ("\ufeff" if bom else "") + to_csv(report)
    response = HttpResponse(body.encode("utf-8"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="sla-report-{report.start:%Y-%m}-{report.end:%Y-%m}.csv"'
    )
    return response


def respond(request: HttpRequest, template: str, report: Report, **extra) -> HttpResponse:
    """The report as CSV (``?format=csv``) or as the page; both surfaces answer this way."""
    if request.GET.get("format") == "csv":
        return csv_response(report, bom=request.GET.get("bom") != "0")
    params = request.GET.copy()
    params.pop("format", None)
    params.pop("bom", None)
    return render(request, template, {**context(report), "query": params.urlencode(), **extra})
