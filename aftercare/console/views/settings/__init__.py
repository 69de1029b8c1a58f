"""The console's settings area: what managers change weekly (SLA plans and calendars,
canned answers, mailboxes, webhooks, users, organisations); the admin stays for the
rare. One module a section; ``_base`` holds the shared list/edit/delete pages, the
permission checks and the audit."""

from aftercare.console.views.settings.home import settings_home

__all__ = ["settings_home"]
