"""IMAP mailboxes. The password is write-only: never rendered, kept when left empty.

"Test connection" logs in and selects the folder with a short timeout, and shows the
server's answer (never the password); it changes nothing, so it is allowed to anyone who
may see the page (still a POST: it carries the CSRF token and stays out of crawlers).
"""

from __future__ import annotations

import contextlib

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from aftercare.console.settings_forms import MailboxForm
from aftercare.console.views.common import agent_required
from aftercare.console.views.settings._base import Section
from aftercare.mail.models import Mailbox
from aftercare.tenancy.querysets import visible_organisations

TEST_TIMEOUT_SECONDS = 10


class MailboxSection(Section):
    key = "mailboxes"
    title = gettext_lazy("Mailboxes")
    add_title = gettext_lazy("New mailbox")
    model = Mailbox
    view_perm = "mail.view_mailbox"
    add_perm = "mail.add_mailbox"
    change_perm = "mail.change_mailbox"
    delete_perm = "mail.delete_mailbox"
    list_template = "console/settings/mailboxes.html"
    url_kwarg = "mailbox_id"
    edit_template = "console/settings/mailbox_edit.html"

    @classmethod
    def list_rows(cls, request: HttpRequest):
        return Mailbox.objects.select_related("default_organisation").order_by("name")

    @classmethod
    def form(cls, request: HttpRequest, obj, data=None):
        return MailboxForm(data, instance=obj, organisations=visible_organisations(request.permset))

    @classmethod
    def save(cls, request: HttpRequest, form, obj):
        mailbox = form.save()
        # "Password" counts as changed only when a new one was typed.
        form.audit_fields = [
            str(form.fields[n].label)
            for n in form.changed_data
            if n != "password" or request.POST.get("password")
        ]
        return mailbox


def check_connection(mailbox: Mailbox) -> str:
    """Log in and select the folder; '' when it works, else what went wrong."""
    import imaplib
    import socket
    import ssl

    try:
        if mailbox.security == Mailbox.Security.SSL:
            conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                mailbox.host,
                mailbox.port,
                ssl_context=ssl.create_default_context(),
                timeout=TEST_TIMEOUT_SECONDS,
            )
        else:
            conn = imaplib.IMAP4(mailbox.host, mailbox.port, timeout=TEST_TIMEOUT_SECONDS)
            if mailbox.security == Mailbox.Security.STARTTLS:
                conn.starttls(ssl_context=ssl.create_default_context())
        try:
            conn.login(mailbox.username, mailbox.password)
            status, _data = conn.select(mailbox.folder, readonly=True)
            if status != "OK":
                return _("Signed in, but the folder “%(folder)s” cannot be opened.") % {
                    "folder": mailbox.folder
                }
        finally:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                conn.logout()
    except TimeoutError:
        return _("No answer within %(s)d seconds.") % {"s": TEST_TIMEOUT_SECONDS}
    except socket.gaierror:
        return _("The host name cannot be resolved.")
    except ssl.SSLError as exc:
        return _("TLS failed: %(error)s") % {"error": exc.reason or exc}
    except imaplib.IMAP4.error as exc:
        text = str(exc).replace(mailbox.password, "***") if mailbox.password else str(exc)
        return _("The server refused: %(error)s") % {"error": text}
    except OSError as exc:
        return _("Cannot connect: %(error)s") % {"error": exc.strerror or exc}
    return ""


@agent_required
@require_POST
def mailbox_test(request: HttpRequest, mailbox_id: int) -> HttpResponse:
    mailbox = MailboxSection.fetch(request, mailbox_id)
    error = check_connection(mailbox)
    if error:
        messages.error(
            request,
            _("Connection to %(host)s failed. %(error)s") % {"host": mailbox.host, "error": error},
        )
    else:
        messages.success(
            request, _("Connected to %(host)s and opened the folder.") % {"host": mailbox.host}
        )
    return redirect(MailboxSection.url("edit", mailbox.pk))
