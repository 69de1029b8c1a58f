"""The settings area's pages, included by ``console/urls.py`` at ``settings/`` inside the
``console`` namespace (names ``console:settings-<section>[-new|-edit|-delete]``)."""

from django.urls import path

from aftercare.console.views.settings import _base, home, mailboxes, sla, webhooks
from aftercare.console.views.settings.canned import CannedSection
from aftercare.console.views.settings.mailboxes import MailboxSection
from aftercare.console.views.settings.organisations import OrganisationSection
from aftercare.console.views.settings.sla import CalendarSection, PlanSection
from aftercare.console.views.settings.users import UserSection
from aftercare.console.views.settings.webhooks import WebhookSection


def _section(section, *, delete: bool = False) -> list:
    name = f"settings-{section.key}"
    obj = f"<{section.url_converter}:{section.url_kwarg}>"
    paths = [
        path(f"{section.key}/", _base.list_view(section), name=name),
        path(f"{section.key}/new/", _base.edit_view(section), name=f"{name}-new"),
        path(f"{section.key}/{obj}/", _base.edit_view(section), name=f"{name}-edit"),
    ]
    if delete:
        paths.append(
            path(f"{section.key}/{obj}/delete/", _base.delete_view(section), name=f"{name}-delete")
        )
    return paths


urlpatterns = [
    path("", home.settings_home, name="settings"),
    *_section(PlanSection, delete=True),
    path("sla-plans/<int:plan_id>/targets/", sla.plan_targets, name="settings-sla-plans-targets"),
    *_section(CalendarSection, delete=True),
    *_section(CannedSection, delete=True),
    *_section(MailboxSection, delete=True),
    path(
        "mailboxes/<int:mailbox_id>/test/", mailboxes.mailbox_test, name="settings-mailboxes-test"
    ),
    *_section(WebhookSection, delete=True),
    path(
        "webhooks/<int:webhook_id>/secret/",
        webhooks.webhook_rotate,
        name="settings-webhooks-secret",
    ),
    *_section(UserSection),
    *_section(OrganisationSection),
]
