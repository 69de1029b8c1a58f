"""What each status means for the customer, in their words.

The workflow's names ("Done", "Released") are the desk's; a customer reads them as "is it
fixed?". For consultations and documentation requests there is nothing to install:
"Done" means the answer or the document is ready, "Released" that it has been handed over.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _

from aftercare.desk.models import Category, Status

ANSWER = frozenset({Category.CONSULTATION})
DOCUMENT = frozenset({Category.DOCUMENTATION})


def explain(status: str, category: str) -> str:
    days = settings.AFTERCARE_ARCHIVE_AFTER_DAYS
    if status == Status.BACKLOG:
        return _("We have received your request. It waits to be planned by the service desk.")
    if status == Status.SPRINT:
        return _("Your request is planned into the current two-week work cycle.")
    if status == Status.IN_PROGRESS:
        if category in ANSWER:
            return _("A consultant is preparing the answer to your question.")
        if category in DOCUMENT:
            return _("We are writing the document you asked for.")
        return _("Someone is working on your request now.")
    if status == Status.WAITING:
        return _(
            "We need something from you: please read our last message and answer below. "
            "The response-time clock is paused until you do."
        )
    if status == Status.DONE:
        if category in ANSWER:
            return _("The answer is ready and is checked before we send it to you.")
        if category in DOCUMENT:
            return _("The document is ready and is checked before we hand it over.")
        return _(
            "The solution is ready and waits to be delivered to your system. "
            "You will be asked to check it once it is delivered."
        )
    if status == Status.RELEASED:
        if category in ANSWER:
            text = _(
                "We have sent you our answer (see the conversation). If it answers your "
                "question, accept it; if not, reopen the request and tell us what is missing."
            )
        elif category in DOCUMENT:
            text = _(
                "The document has been handed over (see the conversation). Accept it if it "
                "is what you need, or reopen the request and tell us what to change."
            )
        else:
            text = _(
                "The solution has been delivered to your system. Please check it: accept it "
                "if it works, or reopen the request and tell us what is still wrong."
            )
        if days:
            text += " " + _(
                "Without an answer the request is closed automatically after %(days)s days."
            ) % {"days": days}
        return text
    if status == Status.ARCHIVED:
        return _("Closed. If the problem comes back, file a new request and mention this number.")
    if status == Status.REJECTED:
        return _("We could not take this request on; the reason is given below.")
    return ""
