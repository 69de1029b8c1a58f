"""The REST API, version 1: one ``NinjaAPI`` mounted at ``/api/v1/``.

Authentication is a personal token or the browser session (see ``auth``); every
operation runs through ``auth.as_caller`` so it sees the caller's organisation scope.
"""

from __future__ import annotations

from django.views.decorators.http import require_safe
from ninja import NinjaAPI
from ninja.operation import Operation

from aftercare.alerts.api import router as alerts_router
from aftercare.api import conversation, directory, errors, notifications, tickets, timeentries
from aftercare.api.auth import SessionAuth, TokenAuth, as_caller

DESCRIPTION = """
Aftercare's service desk over HTTP. The same rules as the pages apply: a customer sees
and changes only what the portal lets them, staff what their role allows.

**Authentication.** Create a personal token under *Profile → API tokens* and send it as
`Authorization: Bearer <token>`. In the browser the session works too (unsafe methods
need the `X-CSRFToken` header).

**Errors** are `{"code", "message", "fields"}` with a stable `code`: `unauthenticated`
(401), `permission_denied`, `csrf_failed` (403), `not_found` (404: also for anything
outside your reach), `conflict` (409: the request changed since you read its `version`),
`transition_not_allowed` (409), `validation_error` (422, `fields` names the fields),
`rate_limited` (429, see `Retry-After`).

**Lists** page by cursor: pass `next_cursor` back as `after` (or `prev_cursor` as
`before`).
"""


class AftercareAPI(NinjaAPI):
    def get_openapi_operation_id(self, operation: Operation) -> str:
        # ``list_tickets`` rather than ninja's ``aftercare_api_tickets_list_tickets``:
        # the id becomes a method name in generated clients.
        return operation.view_func.__name__


api = AftercareAPI(
    title="Aftercare API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api:v1",
    openapi_url="/openapi.json",
    docs_url=None,  # served at /api/docs by ``views.docs``, from local assets
    docs_decorator=require_safe,  # the schema is read, never posted to
    auth=[TokenAuth(), SessionAuth()],
)
errors.install(api)
for router in (
    tickets.router,
    conversation.router,
    directory.router,
    notifications.router,
    timeentries.router,
):
    router.add_decorator(as_caller)
    api.add_router("", router)
# Monitoring alerts: their own integration tokens, never a person's (aftercare.alerts.api).
api.add_router("", alerts_router)
