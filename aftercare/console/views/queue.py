"""The queue and the board."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote, urlencode, urlsplit

from django.db.models import Case, CharField, Count, IntegerField, Q, Value, When
from django.db.models.functions import Cast, Coalesce, Concat, Lower, NullIf, Trim
from django.http import HttpRequest, HttpResponse, QueryDict
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from aftercare.accounts.querysets import agents
from aftercare.accounts.roles import Role
from aftercare.console.forms import (
    BULK_LIMIT,
    DEFAULT_SORT,
    OPERATOR_DEFAULT_SORT,
    SLA_FILTERS,
    SORT_COLUMNS,
    SORTS,
    STATUS_FILTERS,
    QueueFilterForm,
    normalise_filters,
)
from aftercare.console.models import SavedView
from aftercare.console.views.common import _prefix, _safe_next, agent_required
from aftercare.console.views.request import _perform
from aftercare.desk import workflow
from aftercare.desk.models import OPEN_STATUSES, Category, Level, Priority, Status
from aftercare.desk.querysets import get_ticket_for_user, visible_tickets
from aftercare.lib.keyset import paginate
from aftercare.search.query import ticket_filter
from aftercare.sla.templatetags.sla import sla_badge
from aftercare.tenancy.querysets import visible_organisations


def default_sort(permset) -> str:
    """The order a queue opens in when nobody chose one.

    An agent who works as an L1 operator only takes requests as the regulation says:
    the most urgent first, then in order of arrival. Everyone else (consultants,
    managers, an operator who is also a consultant) keeps the most recently updated first.
    """
    if permset.staff_roles == {Role.OPERATOR}:
        return OPERATOR_DEFAULT_SORT
    return DEFAULT_SORT


def _cleaned(form: QueueFilterForm) -> dict:
    """The filters that are valid: a bad value drops that filter alone, not all of them."""
    if not form.is_bound:
        return {}
    form.is_valid()
    return dict(form.cleaned_data)


def _conditions(data: dict, *, user, default_status: str = "open", now=None) -> Q:
    """Every filter except the text search, as one condition.

    The list, the sidebar's counts and the saved views all use it, so a count always
    matches the list that its link opens.
    """
    now = now or timezone.now()
    cond = Q()
    status = data.get("status") or default_status
    if status == "open":
        cond &= Q(status__in=OPEN_STATUSES)
    elif status != "all":
        cond &= Q(status=status)
    for name in ("priority", "level", "organisation"):
        if data.get(name) not in (None, ""):
            cond &= Q(**{name if name != "organisation" else "organisation_id": data[name]})
    if data.get("category"):
        cond &= Q(category=data["category"])
    assignee = data.get("assignee")
    if assignee == "me":
        cond &= Q(assignee=user)
    elif assignee == "none":
        cond &= Q(assignee__isnull=True)
    elif assignee:
        cond &= Q(assignee_id=int(assignee))
    sla = data.get("sla")
    if sla == "hour":
        # Only running clocks have a due time; one already past is breaching too.
        cond &= Q(sla_due_at__lte=now + timedelta(hours=1))
    elif sla == "soon":
        cond &= Q(sla_warn_at__lte=now, sla_due_at__gt=now)
    elif sla == "breached":
        cond &= Q(sla_due_at__lte=now) | Q(sla_state="breached")
    elif sla == "paused":
        cond &= Q(sla_state="paused")
    return cond


def _filtered(request: HttpRequest, form: QueueFilterForm, default_status: str = "open"):
    qs = visible_tickets(request.permset)
    data = _cleaned(form)
    cond = _conditions(data, user=request.user, default_status=default_status)
    if cond:
        qs = qs.filter(cond)
    # A sort key that is computed (the workflow's order of statuses, the assignee's name)
    # comes with the rows, so every caller (the queue, the API) pages by it alike.
    key = SORTS.get(data.get("sort") or default_sort(request.permset), SORTS[DEFAULT_SORT])[0]
    annotation = _sort_annotation(key)
    if annotation is not None:
        qs = qs.annotate(**{key: annotation})
    text = (data.get("q") or "").strip()
    if text:
        # Only open requests are kept: only their documents need reading (their own index).
        status = data.get("status") or default_status
        open_only = status == "open" or status in OPEN_STATUSES
        if text.upper().startswith(f"{_prefix()}-"):
            qs = qs.filter(number=text.upper())  # the unique index answers at once
        elif text.isdigit():
            qs = qs.filter(
                Q(number__endswith=f"-{int(text):06d}")
                | ticket_filter(request.permset, text, open_only=open_only)
            )
        else:
            # Full text (aftercare/search): subject, description, replies, notes for staff
            # who may read them, file and people's names; case and accents ignored.
            qs = qs.filter(ticket_filter(request.permset, text, open_only=open_only))
    return qs, data


# How a sort key that is not a plain column is computed (see ``forms.SORT_COLUMNS``).
def _sort_annotation(key: str):
    if key == "status_rank":
        # The workflow's order, not the alphabet's.
        return Case(
            *(When(status=s, then=Value(i)) for i, s in enumerate(Status.values)),
            default=Value(len(Status.values)),
            output_field=IntegerField(),
        )
    if key == "subject_key":
        return Lower("subject")
    if key == "priority_arrival":
        # Priority (one digit, 1 = critical) then the arrival instant, as one text key
        # whose order is (priority, created_at): both databases write the UTC instant
        # as "YYYY-MM-DD HH:MM:SS[.ffffff]", which sorts like the instant itself.
        return Concat(
            Cast("priority", CharField()),
            Value(" "),
            Cast("created_at", CharField()),
            output_field=CharField(),
        )
    if key == "assignee_key":
        # The name the list shows (display_name), empty for nobody: sorted last.
        name = NullIf(
            Trim(Concat("assignee__first_name", Value(" "), "assignee__last_name")), Value("")
        )
        return Lower(
            Coalesce(name, NullIf("assignee__email", Value("")), "assignee__username"),
            output_field=CharField(null=True),
        )
    return None


# Computed keys that are, in order, plain columns: the queue pages by the columns (an
# index on them answers page N without sorting the open set); the API, which shares
# ``_filtered``, keeps paging by the computed key (its cursors stay valid).
KEYSET_COLUMNS = {"priority_arrival": ("priority", "created_at")}


def _sorted(qs, sort: str, default: str = DEFAULT_SORT):
    """(queryset, key, descending) for a sort value; an unknown value sorts by default."""
    key, descending, _label = SORTS.get(sort or default, SORTS[DEFAULT_SORT])
    annotation = _sort_annotation(key)
    if annotation is not None and key not in qs.query.annotations:
        qs = qs.annotate(**{key: annotation})
    return qs, key, descending


# Columns of the list, in order: (column, label, sortable).
COLUMNS = (
    ("number", _("Number"), True),
    ("subject", _("Subject"), True),
    ("organisation", _("Organisation"), True),
    ("status", _("Status"), True),
    ("priority", _("Priority"), True),
    ("category", _("Category"), False),
    ("level", _("Level"), True),
    ("assignee", _("Assignee"), True),
    ("sla", _("SLA"), True),
    ("updated", _("Updated"), True),
)


def _query(filters: dict, **extra) -> str:
    return urlencode({**filters, **{k: v for k, v in extra.items() if v}})


def _headers(filters: dict, sort: str, default: str = DEFAULT_SORT) -> list[dict]:
    """Each column header: a link that sorts by it (again: the other way) and its state."""
    current = sort or default
    headers = []
    for column, label, sortable in COLUMNS:
        header = {"column": column, "label": label, "sortable": sortable, "aria": "none"}
        if sortable:
            first_desc = SORT_COLUMNS[column][1]
            if current == column:
                header.update(aria="ascending", next=f"-{column}")
            elif current == f"-{column}":
                header.update(aria="descending", next=column)
            else:
                header["next"] = f"-{column}" if first_desc else column
            header["href"] = "?" + _query(filters, sort=header["next"])
        headers.append(header)
    return headers


BUILTIN_VIEWS = (
    ("all", _("All open"), {}),
    ("mine", _("Mine"), {"assignee": "me"}),
    ("unassigned", _("Unassigned"), {"assignee": "none"}),
    ("breaching", _("Breaching within an hour"), {"sla": "hour"}),
    ("waiting", _("Waiting for the customer"), {"status": Status.WAITING.value}),
    ("l1", _("L1"), {"level": "1"}),
    ("l2", _("L2"), {"level": "2"}),
)
_STATUS_VALUES = {v for v, _l in STATUS_FILTERS}
_SLA_VALUES = {v for v, _l in SLA_FILTERS}


def _light(filters: dict) -> dict:
    """A saved view's filters, typed for ``_conditions`` without building a whole form
    (which would query organisations and agents once per view). Bad values drop out."""
    data: dict = {}
    if filters.get("status") in _STATUS_VALUES:
        data["status"] = filters["status"]
    for name, allowed in (("priority", Priority.values), ("level", Level.values)):
        value = filters.get(name, "")
        if value.isdigit() and int(value) in allowed:
            data[name] = int(value)
    if filters.get("organisation", "").isdigit():
        data["organisation"] = int(filters["organisation"])
    if filters.get("category") in Category.values:
        data["category"] = filters["category"]
    assignee = filters.get("assignee", "")
    if assignee in ("me", "none") or assignee.isdigit():
        data["assignee"] = assignee
    if filters.get("sla") in _SLA_VALUES:
        data["sla"] = filters["sla"]
    data["q"] = filters.get("q", "")
    return data


def _signature(filters: dict) -> str:
    """Filters in one canonical form; queue.js builds the same from the address bar."""
    return "\n".join(sorted(f"{k}={v}" for k, v in filters.items()))


def visible_saved_views(request: HttpRequest):
    """The user's own views and the shared ones; never another agent's personal view."""
    return SavedView.objects.filter(
        Q(owner=request.user, is_shared=False) | Q(is_shared=True)
    ).order_by("-is_shared", "position", "pk")


def _sidebar(request: HttpRequest, current: dict, sort: str) -> dict:
    """The views with their counts, all counted in one aggregate query.

    Each count is ``COUNT(*) FILTER (WHERE …)`` with the same conditions as the list
    its link opens, over the requests the user may see (a restricted agent counts only
    their organisations). The rows scanned are the open ones, widened only as far as a
    saved view's status filter needs.
    """
    permset = request.permset
    now = timezone.now()
    entries = []
    for key, label, filters in BUILTIN_VIEWS:
        entries.append({"key": key, "label": label, "filters": filters, "saved": None})
    for view in visible_saved_views(request):
        filters = normalise_filters(view.filters())
        org = filters.get("organisation", "")
        if view.is_shared and org.isdigit() and not permset.sees_organisation(int(org)):
            continue  # nothing of it is theirs: not even its name
        entries.append(
            {"key": f"v{view.pk}", "label": view.name, "filters": filters, "saved": view}
        )
    statuses: set[str] | None = set(OPEN_STATUSES)
    aggregates = {}
    for entry in entries:
        data = _light(entry["filters"])
        cond = _conditions(data, user=request.user, now=now)
        status = data.get("status") or "open"
        if status == "all":
            statuses = None
        elif statuses is not None and status != "open":
            statuses.add(status)
        text = data["q"].strip()
        if text:
            # The search is written once, in ``_filtered``: use it as a subquery.
            texted, _data = _filtered(
                request, QueueFilterForm(QueryDict(urlencode({"q": text}))), default_status="all"
            )
            cond &= Q(pk__in=texted.values("pk"))
        aggregates[entry["key"]] = Count("pk", filter=cond) if cond else Count("pk")
    base = visible_tickets(permset)
    if statuses is not None:
        base = base.filter(status__in=sorted(statuses))
    counts = base.aggregate(**aggregates)
    current_signature = _signature(current)
    default = default_sort(permset)
    current_sort = sort or default
    views = {"builtin": [], "shared": [], "mine": []}
    for entry in entries:
        view = entry["saved"]
        entry["count"] = counts.get(entry["key"], 0)
        entry["signature"] = _signature(entry["filters"])
        entry["href"] = reverse("console:queue") + (
            "?" + view.url_query()
            if view
            else ("?" + _query(entry["filters"]) if entry["filters"] else "")
        )
        entry["sort"] = (view.sort or default) if view else ""
        entry["active"] = entry["signature"] == current_signature and (
            not view or entry["sort"] == current_sort
        )
        group = "builtin" if view is None else ("shared" if view.is_shared else "mine")
        views[group].append(entry)
    return views


def _current_filters(params) -> tuple[dict, str]:
    sort = params.get("sort") or ""
    return normalise_filters(params), (sort if sort in SORTS else "")


def _ticket_url_prefix() -> str:
    """The address of a request without its number (``/console/t/``): rows and cards add the
    quoted number and a slash, instead of one ``reverse()`` per link."""
    return reverse("console:ticket", args=["0"])[:-2]


def _labels(choices) -> dict:
    """A choices class's labels by value, translated once per page (``get_FOO_display``
    hashes every choice on each call)."""
    return {value: str(label) for value, label in choices.choices}


def _row_html(row, *, url, status, priority, category, now) -> str:
    """One row of the queue, made in Python (fifty a page; the template's per-variable
    cost was most of the page's time). The markup is the one ``console/queue.html`` wrote
    per row before."""
    assignee = (
        row.assignee.display_name if row.assignee_id else mark_safe('<span class="muted">—</span>')  # noqa: S308 - a constant
    )
    updated = timezone.localtime(row.updated_at)
    return format_html(
        '<tr data-href="{}"><td class="pick"><input type="checkbox" name="tickets" value="{}"'
        ' aria-label="{}"></td>'
        '<td class="col-number num"><a href="{}">{}</a></td>'
        '<td class="col-subject"><a href="{}">{}</a></td>'
        '<td class="col-organisation">{}</td>'
        '<td class="col-status"><span class="badge st-{}">{}</span></td>'
        '<td class="col-priority"><span class="badge pr-{}">{}</span></td>'
        '<td class="col-category">{}</td>'
        '<td class="col-level">L{}</td>'
        '<td class="col-assignee">{}</td>'
        '<td class="col-sla">{}</td>'
        '<td class="col-updated small" title="{}">{}</td></tr>',
        url,
        row.number,
        gettext("Select %(number)s") % {"number": row.number},
        url,
        row.number,
        url,
        row.subject,
        row.organisation.name,
        row.status,
        status,
        row.priority,
        priority,
        category,
        row.level,
        assignee,
        sla_badge(row, now),
        formats.localize(updated),
        formats.date_format(updated, "SHORT_DATETIME_FORMAT"),
    )


@agent_required
def queue(request: HttpRequest) -> HttpResponse:
    from django.conf import settings

    agent_list = list(agents())
    form = QueueFilterForm(
        request.GET or None,
        organisations=visible_organisations(request.permset).only("pk", "name"),
        agents=agent_list,
        lenient_organisation=True,
    )
    default = default_sort(request.permset)
    # The sort menu shows the order the list is in, the user's default included.
    form.fields["sort"].initial = default
    if form.is_bound and not request.GET.get("sort"):
        form.data = form.data.copy()
        form.data["sort"] = default
    qs, data = _filtered(request, form)
    filters, sort = _current_filters(request.GET)
    sorted_qs, key, descending = _sorted(
        qs.select_related("organisation", "assignee"), sort, default
    )
    page = paginate(
        sorted_qs,
        KEYSET_COLUMNS.get(key, key),
        descending=descending,
        size=settings.AFTERCARE_QUEUE_PAGE_SIZE,
        after=request.GET.get("after"),
        before=request.GET.get("before"),
    )
    # What is the same for many rows is made once: the address pattern (each row links
    # three times) and the labels (``get_FOO_display`` hashes every choice per call).
    ticket_url = _ticket_url_prefix()
    statuses, priorities, categories = (_labels(c) for c in (Status, Priority, Category))
    now = timezone.now()
    rows_html = mark_safe(  # noqa: S308 - each row is made by format_html
        "".join(
            _row_html(
                row,
                url=f"{ticket_url}{quote(row.number)}/",
                status=statuses.get(row.status, row.status),
                priority=priorities.get(row.priority, row.priority),
                category=categories.get(row.category, row.category),
                now=now,
            )
            for row in page.rows
        )
    )
    params = request.GET.copy()
    for key in ("after", "before"):
        params.pop(key, None)
    return render(
        request,
        "console/queue.html",
        {
            "form": form,
            "page": page,
            "rows_html": rows_html,
            "total": qs.count(),
            "params": params.urlencode(),
            "nav": "queue",
            "headers": _headers(filters, sort, default),
            "views": _sidebar(request, filters, sort),
            "view_query": _query(filters, sort=sort),
            "may_share": request.permset.has("console.manage_shared_views"),
            "bulk_agents": agent_list,
            "bulk_statuses": Status.choices,
            "bulk_priorities": Priority.choices,
            "bulk_levels": Level.choices,
            "bulk_limit": BULK_LIMIT,
        },
    )


@agent_required
def queue_counts(request: HttpRequest) -> HttpResponse:
    """The sidebar alone, for its refresh every minute (and after bulk changes).

    The page it refreshes sends its own address (htmx's ``HX-Current-URL``), so the view
    being looked at stays marked.
    """
    current = QueryDict(urlsplit(request.headers.get("HX-Current-URL", "")).query)
    filters, sort = _current_filters(current)
    return render(
        request,
        "console/_queue_sidebar.html",
        {
            "views": _sidebar(request, filters, sort),
            "may_share": request.permset.has("console.manage_shared_views"),
        },
    )


BOARD_COLUMNS = (
    Status.BACKLOG,
    Status.SPRINT,
    Status.IN_PROGRESS,
    Status.WAITING,
    Status.DONE,
    Status.RELEASED,
)
BOARD_CARDS = 30
# What a card shows: the rest of a request's columns (its description above all) stays
# in the database.
BOARD_CARD_FIELDS = (
    "number",
    "subject",
    "priority",
    "level",
    "status",
    "version",
    "sla_state",
    "sla_due_at",
    "organisation__name",
    "assignee__first_name",
    "assignee__last_name",
    "assignee__email",
    "assignee__username",
)


def _card_html(card, column: dict, *, url, move_url, priority, now, parts) -> str:
    """One card of the board, made in Python: a board has up to 180 of them, and the
    template's per-variable cost was most of the page's time. The markup is the one the
    template wrote before (``console/board.html`` keeps the frame)."""
    people = card.organisation.name
    if card.assignee_id:
        people = format_html("{} · {}", people, card.assignee.display_name)
    move = ""
    if column["rules"]:
        reason = (
            format_html(
                '<input type="text" name="reason" placeholder="{}" aria-label="{}">',
                parts["reason_hint"],
                parts["reason"],
            )
            if column["reason_targets"]
            else ""
        )
        move = format_html(
            '<form method="post" action="{}" class="card-move" data-reason-prompt="{}">'
            '<input type="hidden" name="csrfmiddlewaretoken" value="{}">'
            '<input type="hidden" name="next_url" value="{}">'
            '<input type="hidden" name="version" value="{}">'
            '<select name="target" aria-label="{}">{}</select>{}'
            '<button type="submit">{}</button></form>',
            move_url,
            parts["reason"],
            parts["csrf"],
            parts["next_url"],
            card.version,
            parts["move_to"],
            column["options"],
            reason,
            parts["move"],
        )
    return format_html(
        '<article class="card" draggable="true" data-ticket="{}" data-targets="{}"'
        ' data-reason-targets="{}">'
        '<div><a class="num" href="{}">{}</a> <span class="badge pr-{}">{}</span> {}</div>'
        "<div>{}</div>"
        '<div class="muted small">{} · L{}</div>{}</article>',
        card.number,
        column["targets"],
        column["reason_targets"],
        url,
        card.number,
        card.priority,
        priority,
        sla_badge(card, now),
        Truncator(card.subject).chars(90),
        people,
        card.level,
        move,
    )


@agent_required
def board(request: HttpRequest) -> HttpResponse:
    form = QueueFilterForm(
        request.GET or None,
        organisations=visible_organisations(request.permset).only("pk", "name"),
        agents=agents(),
        lenient_organisation=True,
    )
    # The columns are the statuses and each sorts by urgency: no status or sort filter.
    del form.fields["status"], form.fields["sort"]
    qs, _data = _filtered(request, form, default_status="all")
    qs = qs.filter(status__in=BOARD_COLUMNS)
    counts = dict(qs.order_by().values_list("status").annotate(n=Count("pk")))
    roles = request.permset.staff_roles
    # Up to 180 cards: what is the same on every card (the move menu of a column, the
    # address pattern) is made once here, not once per card in the template.
    ticket_url = _ticket_url_prefix()
    move_url = reverse("console:ticket-move", args=["0"])
    move_prefix, move_suffix = move_url.rsplit("/0/", 1)
    priority_labels = _labels(Priority)
    now = timezone.now()
    card_parts = {
        "csrf": get_token(request),
        "next_url": request.get_full_path(),
        "move_to": str(_("Move to")),
        "reason": str(_("Reason")),
        "reason_hint": str(_("Reason (if needed)")),
        "move": str(_("Move")),
    }
    columns = []
    for status in BOARD_COLUMNS:
        rules = workflow.allowed_transitions(status, roles)
        cards = list(
            qs.filter(status=status)
            .select_related("organisation", "assignee")
            .only(*BOARD_CARD_FIELDS)
            .order_by("priority", "-updated_at", "-pk")[:BOARD_CARDS]
        )
        column = {
            "status": status,
            "label": Status(status).label,
            "cards": cards,
            "count": counts.get(status, 0),
            "shown": len(cards),
            "rules": rules,
            "options": format_html_join(
                "", '<option value="{}">{}</option>', ((r.target, r.label) for r in rules)
            ),
            "targets": " ".join(r.target for r in rules),
            "reason_targets": " ".join(r.target for r in rules if r.reason_required),
        }
        column["cards_html"] = mark_safe(  # noqa: S308 - each card is made by format_html
            "".join(
                _card_html(
                    card,
                    column,
                    url=f"{ticket_url}{quote(card.number)}/",
                    move_url=f"{move_prefix}/{quote(card.number)}/{move_suffix}",
                    priority=priority_labels.get(card.priority, card.priority),
                    now=now,
                    parts=card_parts,
                )
                for card in cards
            )
        )
        columns.append(column)
    params = request.GET.copy()
    return render(
        request,
        "console/board.html",
        {
            "form": form,
            "columns": columns,
            "nav": "board",
            "params": params.urlencode(),
            "next_url": request.get_full_path(),
        },
    )


@agent_required
@require_POST
def board_move(request: HttpRequest, number: str) -> HttpResponse:
    """A card moved on the board: the same checked transition as on the request page."""
    ticket = get_ticket_for_user(request.permset, number, lookup="number")
    _perform(request, ticket, "transition", report=True)
    return redirect(_safe_next(request) or reverse("console:board"))
