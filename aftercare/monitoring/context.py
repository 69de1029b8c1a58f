"""The request id and who is asking, for log records, in a context variable.

A context variable (not a thread-local) so that it follows the code that runs for one
request or one job, whatever thread runs it: the middleware sets it for a request, the
Huey hooks in ``jobs`` set it for a task that a request enqueued.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any

# What a proxy may hand us: letters, digits and . _ : - (a UUID, nginx's $request_id,
# a hex trace id). Anything else (spaces, quotes, newlines, 200 characters of noise) is
# replaced by an id of our own, so a header cannot forge or break a log line.
REQUEST_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")
HEADER = "X-Request-ID"


@dataclass
class Context:
    request_id: str = ""
    method: str = ""
    path: str = ""
    request: Any = None  # the HttpRequest, read lazily for the user id
    task: str = ""

    @property
    def user_id(self) -> int | None:
        # Only a user the request has already loaded: reading ``request.user`` here would
        # query the session in the middle of logging (and /healthz must not touch the
        # database at all).
        user = getattr(self.request, "_cached_user", None)
        if user is not None and getattr(user, "is_authenticated", False):
            return user.pk
        return None


_current: ContextVar[Context | None] = ContextVar("aftercare_request_context", default=None)


def current() -> Context | None:
    return _current.get()


def current_request_id() -> str:
    ctx = _current.get()
    return ctx.request_id if ctx is not None else ""


def activate(ctx: Context | None) -> Token:
    return _current.set(ctx)


def deactivate(token: Token) -> None:
    _current.reset(token)


def new_request_id() -> str:
    return uuid.uuid4().hex


def accept_request_id(value: str | None) -> str:
    """The proxy's id if it is well-formed, else a new one."""
    if value and REQUEST_ID_RE.fullmatch(value):
        return value
    return new_request_id()
