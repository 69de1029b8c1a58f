"""Keep the index in step with the writers (connected in ``SearchConfig.ready``).

Every desk service and the importers record their follow-ups after their rows are
written (``desk.services._event``): the request's documents are rebuilt when they are
expanded, after the change's commit (``desk.followups``; in the test suite, in the
change's transaction), and again by ``search_reindex`` on demand. Renaming a person or an organisation
changes the names the index holds for their requests. Opening or closing a request sets
its documents' ``is_open`` in the change's own transaction.
"""

from __future__ import annotations

from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver
from django_scopes import scopes_disabled

from aftercare.accounts.models import User
from aftercare.desk.models import OPEN_STATUSES, Ticket
from aftercare.desk.signals import ticket_changed, ticket_followup
from aftercare.search.indexer import index_quietly, reporter_line
from aftercare.search.models import SearchDocument
from aftercare.tenancy.models import Organisation

# Events that change no text the index holds (status, people, levels, SLA): skipped.
_NO_TEXT = frozenset(
    {
        "desk.ticket.status_changed",
        "desk.ticket.assigned",
        "desk.ticket.reprioritised",
        "desk.ticket.escalated",
        "desk.ticket.acknowledged",
    }
)
_NAME_FIELDS = frozenset({"first_name", "last_name", "email", "username"})


@receiver(ticket_followup, dispatch_uid="search.ticket_followup")
def _ticket_changed(sender, ticket: Ticket, event, **kwargs) -> None:
    action = getattr(event, "action", "")
    if action in _NO_TEXT or action.startswith("sla."):
        return
    index_quietly([ticket.pk])


@receiver(ticket_changed, dispatch_uid="search.ticket_status_changed")
def _status_changed(sender, ticket: Ticket, event, **kwargs) -> None:
    """A request opened or closed: its documents' ``is_open`` changes in the same
    transaction, under the request's lock (the queue's text filter reads the open
    documents' own index, ``backend.matching``). A move between two open statuses, or two
    closed ones, writes nothing."""
    if getattr(event, "action", "") != "desk.ticket.status_changed":
        return
    was_open, is_open = event.old in OPEN_STATUSES, event.new in OPEN_STATUSES
    if was_open != is_open:
        SearchDocument.objects.filter(ticket_id=ticket.pk).update(is_open=is_open)


@receiver(pre_save, sender=User, dispatch_uid="search.user_pre_save")
def _remember_user_name(sender, instance: User, update_fields=None, raw=False, **kwargs) -> None:
    instance._search_old_line = None
    if raw or instance.pk is None:
        return
    if update_fields is not None and not (_NAME_FIELDS & set(update_fields)):
        return  # e.g. last_login on every sign-in
    old = User.objects.filter(pk=instance.pk).first()
    instance._search_old_line = reporter_line(old) if old else None


@receiver(post_save, sender=User, dispatch_uid="search.user_post_save")
def _user_renamed(sender, instance: User, created=False, raw=False, **kwargs) -> None:
    old = getattr(instance, "_search_old_line", None)
    if created or raw or old is None or old == reporter_line(instance):
        return
    with scopes_disabled():
        ids = list(Ticket.objects.filter(reporter=instance).values_list("pk", flat=True))
        index_quietly(ids)


@receiver(pre_save, sender=Organisation, dispatch_uid="search.organisation_pre_save")
def _remember_organisation_name(sender, instance: Organisation, raw=False, **kwargs) -> None:
    instance._search_old_name = None
    if raw or instance.pk is None:
        return
    instance._search_old_name = (
        Organisation.objects.filter(pk=instance.pk).values_list("name", flat=True).first()
    )


@receiver(post_save, sender=Organisation, dispatch_uid="search.organisation_post_save")
def _organisation_renamed(sender, instance: Organisation, created=False, **kwargs) -> None:
    old = getattr(instance, "_search_old_name", None)
    if created or old is None or old == instance.name:
        return
    with scopes_disabled():
        ids = list(Ticket.objects.filter(organisation=instance).values_list("pk", flat=True))
        index_quietly(ids)


def index_existing(sender, using: str = "default", **kwargs) -> None:
    """After ``migrate``: fill an empty index once for a database that has requests.

    This is the upgrade path (the requests existed before this app); afterwards the
    writers above keep it in step and ``search_reindex`` rebuilds it on demand.
    """
    from django.db import connections

    from aftercare.search.indexer import rebuild
    from aftercare.search.models import SearchDocument

    if any(backwards for _migration, backwards in kwargs.get("plan") or ()):
        return  # migrated backwards: the schema may be older than the model
    if SearchDocument._meta.db_table not in connections[using].introspection.table_names():
        return  # migrated backwards ("migrate search zero")
    with scopes_disabled():
        if SearchDocument.objects.using(using).exists():
            return
        if not Ticket.objects.using(using).exists():
            return
    if using == "default":
        rebuild()
