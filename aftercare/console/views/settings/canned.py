"""Canned answers: shared ones (managers keep them) and the editor's own personal ones.

An agent restricted to some organisations keeps only personal answers here: a shared
answer is offered to every agent of every organisation, so it is global (403 for them).
Another agent's personal answer does not exist for the editor (404).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from django.db.models import Q
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from aftercare.console.settings_forms import CannedAnswerForm
from aftercare.console.views.settings._base import Section, is_restricted
from aftercare.desk.canned import fill
from aftercare.desk.models import CannedAnswer

if TYPE_CHECKING:
    from django.http import HttpRequest

PLACEHOLDERS = [
    ("customer.name", gettext_lazy("The customer organisation's name")),
    ("reporter.name", gettext_lazy("The reporter's full name")),
    ("reporter.first_name", gettext_lazy("The reporter's first name")),
    ("ticket.number", gettext_lazy("The request number")),
    ("ticket.subject", gettext_lazy("The request subject")),
    ("agent.name", gettext_lazy("Your full name")),
    ("agent.first_name", gettext_lazy("Your first name")),
]


def preview(text: str, agent: Any) -> str:
    """The answer filled by ``desk.canned.fill`` for a made-up request: the same plain
    substitution the composer uses, never the template engine."""
    reporter = SimpleNamespace(display_name="Maria Popescu", first_name="Maria")
    ticket = SimpleNamespace(
        organisation=SimpleNamespace(name="Example Foods Ltd"),
        reporter=reporter,
        number="AC-2026-000123",
        subject=str(_("Invoices do not print")),
    )
    return fill(text, ticket=ticket, agent=agent)  # type: ignore[arg-type]


class CannedSection(Section):
    key = "canned"
    title = gettext_lazy("Canned answers")
    add_title = gettext_lazy("New canned answer")
    model = CannedAnswer
    view_perm = "desk.view_cannedanswer"
    add_perm = "desk.add_cannedanswer"
    change_perm = "desk.change_cannedanswer"
    delete_perm = "desk.delete_cannedanswer"
    global_objects = False  # restricted agents keep their personal answers
    list_template = "console/settings/canned_list.html"
    url_kwarg = "answer_id"
    edit_template = "console/settings/canned_edit.html"

    @classmethod
    def queryset(cls, request: HttpRequest):
        mine = Q(shared=False, owner=request.user)
        if is_restricted(request):
            return CannedAnswer.objects.filter(mine)
        return CannedAnswer.objects.filter(Q(shared=True) | mine)

    @classmethod
    def list_rows(cls, request: HttpRequest):
        return cls.queryset(request).select_related("owner").order_by("-shared", "title")

    @classmethod
    def get_object(cls, request: HttpRequest, value: int):
        # A shared answer serves every organisation: for a restricted agent it does not
        # exist (404, like another agent's personal answer).
        obj = cls.queryset(request).filter(pk=value).first()
        if obj is None:
            raise Http404("No such answer")
        return obj

    @classmethod
    def form(cls, request: HttpRequest, obj, data=None):
        return CannedAnswerForm(data, instance=obj, may_share=not is_restricted(request))

    @classmethod
    def save(cls, request: HttpRequest, form, obj):
        answer = form.save(commit=False)
        if is_restricted(request):
            answer.shared = False
        answer.owner = None if answer.shared else request.user
        answer.save()
        return answer

    @classmethod
    def edit_context(cls, request: HttpRequest, obj) -> dict[str, Any]:
        body = request.POST.get("body") if request.method == "POST" else (obj.body if obj else "")
        return {
            "placeholders": PLACEHOLDERS,
            "preview": preview(body or "", request.user) if body else "",
        }
