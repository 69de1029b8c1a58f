"""One endpoint: POST /api/tickets — authenticate a bearer token, validate, allocate a
number and write the request, its first message and one audit event in one transaction.
What any desk's create must do at the least; nothing Aftercare-specific."""

import hashlib

from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.urls import path
from django.utils import timezone
from ninja import NinjaAPI, Schema
from ninja.security import HttpBearer

from bareproj.models import Event, Message, Sequence, Ticket, Token


class Bearer(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        digest = hashlib.sha256(token.encode()).hexdigest()
        return Token.objects.filter(secret_hash=digest).first()


api = NinjaAPI(auth=Bearer(), docs_url=None)


class TicketIn(Schema):
    organisation: int
    reporter: int
    subject: str
    description: str
    category: str
    priority: int


class TicketOut(Schema):
    number: str
    id: int


@api.post("/tickets", response={201: TicketOut, 403: dict})
def create(request: HttpRequest, payload: TicketIn):
    if payload.organisation != request.auth.organisation_id:
        return 403, {"detail": "not your organisation"}
    now = timezone.now()
    with transaction.atomic():
        Sequence.objects.filter(year=now.year).update(last=F("last") + 1)
        last = Sequence.objects.filter(year=now.year).values_list("last", flat=True).get()
        ticket = Ticket.objects.create(
            number=f"BR-{now.year}-{last:06d}",
            organisation_id=payload.organisation,
            reporter_id=payload.reporter,
            subject=payload.subject[:250],
            description=payload.description,
            category=payload.category,
            priority=payload.priority,
            created_at=now,
        )
        Message.objects.create(ticket=ticket, body=payload.description, created_at=now)
        Event.objects.create(ticket=ticket, action="created", created_at=now)
    return 201, {"number": ticket.number, "id": ticket.pk}


@api.get("/ready", auth=None)
def ready(request: HttpRequest):
    return {"ok": True}


urlpatterns = [path("api/", api.urls)]
