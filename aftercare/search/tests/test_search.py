"""Full-text search: folding through the database, ranking, snippets, who may match what,
and every writer keeping the index in step. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from aftercare.accounts.roles import PermSet, Role
from aftercare.desk import services
from aftercare.desk.models import Channel
from aftercare.desk.tests.factories import PNG, ticket_for
from aftercare.search.models import SearchDocument
from aftercare.search.query import search
from aftercare.tenancy.models import AgentRestriction
from aftercare.tenancy.tests.factories import staff

pytestmark = pytest.mark.django_db


def numbers(user, text: str) -> list[str]:
    return [hit.ticket.number for hit in search(PermSet(user), text).hits]


@pytest.fixture
def cyrillic(owner, org):
    return ticket_for(
        owner, org, subject="Состояние склада неверно", description="Остатки не сходятся."
    )


@pytest.fixture
def romanian(owner, org):
    return ticket_for(
        owner, org, subject="Factura lui Ghiță", description="Scadența facturii a trecut."
    )


@pytest.fixture
def french(owner, org):
    return ticket_for(
        owner, org, subject="Relance client", description="L'échéance du contrat est dépassée."
    )


# -- folding, the cases --------------------------------------------------------


@pytest.mark.parametrize("typed", ["состояние", "СОСТОЯНИЕ", "Состояние", "состоян"])
def test_cyrillic_is_found_whatever_the_case(operator, cyrillic, typed):
    assert numbers(operator, typed) == [cyrillic.number]


@pytest.mark.parametrize("typed", ["Ghita", "ghiță", "GHIŢĂ", "scadenta"])
def test_romanian_is_found_without_diacritics(operator, romanian, typed):
    assert numbers(operator, typed) == [romanian.number]


@pytest.mark.parametrize("typed", ["echeance", "ÉCHÉANCE", "depassee"])
def test_french_is_found_without_accents(operator, french, typed):
    assert numbers(operator, typed) == [french.number]


def test_every_word_must_match_and_the_last_may_be_a_prefix(operator, owner, org):
    t = ticket_for(owner, org, subject="Printer jams on invoices", description="Tray two.")
    assert numbers(operator, "printer invoices") == [t.number]
    assert numbers(operator, "printer invo") == [t.number]
    assert numbers(operator, "printer invo ") == []  # a finished word is matched whole
    assert numbers(operator, "printer scanner") == []
    assert numbers(operator, "   ") == [] and numbers(operator, "!!!") == []


def test_a_request_is_found_by_its_number_long_and_short(operator, owner, org):
    t = ticket_for(owner, org, subject="Anything")
    short = str(int(t.number.rsplit("-", 1)[1]))
    results = search(PermSet(operator), t.number)
    assert [h.ticket.number for h in results.hits][:1] == [t.number] and results.hits[0].exact
    assert numbers(operator, short)[:1] == [t.number]
    assert numbers(operator, t.number.lower()) == [t.number]


def test_reporter_and_customer_names_are_searched(operator, org, owner):
    owner.first_name, owner.last_name = "Ioana", "Ștefănescu"
    owner.save()
    t = ticket_for(owner, org, subject="Anything")
    assert numbers(operator, "stefanescu") == [t.number]
    assert numbers(operator, "alpha foods") == [t.number]


# -- ranking ----------------------------------------------------------------------------


def test_a_subject_hit_ranks_above_a_description_hit(operator, owner, org):
    in_body = ticket_for(
        owner, org, subject="Monthly closing", description="The warehouse says no."
    )
    in_subject = ticket_for(owner, org, subject="Warehouse stock wrong", description="See above.")
    assert numbers(operator, "warehouse") == [in_subject.number, in_body.number]


# -- snippets ---------------------------------------------------------------------------


def test_snippets_are_escaped_and_marked(operator, owner, org):
    t = ticket_for(
        owner,
        org,
        subject="<b>Bold</b> & scripted",
        description="Before <script>alert('x')</script> after the payload word.",
    )
    [hit] = search(PermSet(operator), "script payload").hits
    assert hit.ticket == t
    assert "<script>" not in hit.snippet_html and "<b>" not in hit.subject_html
    assert "&lt;<mark>script</mark>&gt;alert" in hit.snippet_html
    assert "<mark>payload</mark>" in hit.snippet_html
    assert hit.subject_html.startswith("&lt;b&gt;Bold")


def test_the_search_page_escapes_the_query_and_the_results(operator, owner, org, client_for):
    ticket_for(owner, org, subject="Payload <img src=x onerror=alert(1)>", description="x")
    response = client_for(operator).get("/console/search/", {"q": "<img src=x onerror=alert(1)>"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "<img src=x" not in body
    assert "&lt;<mark>img</mark>" in body


def test_a_long_text_gives_a_short_snippet_around_the_match(operator, owner, org):
    words = " ".join(f"filler{i}" for i in range(400))
    ticket_for(owner, org, subject="Long", description=f"{words} needle {words}")
    [hit] = search(PermSet(operator), "needle").hits
    assert "<mark>needle</mark>" in hit.snippet_html
    assert len(hit.snippet_html) < 400 and hit.snippet_html.startswith("…")


# -- who may match what -----------------------------------------------------------------


@pytest.fixture
def noted(ticket, operator):
    services.reply(
        ticket=ticket, actor=operator, body="Root cause: quokkadatabase lock.", internal=True
    )
    services.reply(
        ticket=ticket,
        actor=operator,
        body="Internal attachment",
        internal=True,
        attachments=[SimpleUploadedFile("wombat-trace.png", PNG, content_type="image/png")],
    )
    return ticket


def test_customers_never_match_internal_notes_nor_internal_files(
    noted, owner, coordinator, operator
):
    for word in ("quokkadatabase", "wombat"):
        assert numbers(operator, word) == [noted.number]
        assert numbers(owner, word) == []
        assert numbers(coordinator, word) == []
    hit = search(PermSet(operator), "quokkadatabase").hits[0]
    assert hit.internal and "quokkadatabase" in hit.snippet_html


def test_staff_without_the_internal_note_permission_do_not_match_notes(noted):
    group = Group.objects.create(name="Contractors")
    group.permissions.add(
        Permission.objects.get(codename="view_all_tickets", content_type__app_label="desk")
    )
    contractor = staff(Role.OPERATOR, username="contractor")
    contractor.groups.set([group])
    assert PermSet(contractor).is_agent
    assert numbers(contractor, "quokkadatabase") == []
    assert numbers(contractor, "invoice") == [noted.number]  # the public text, yes


def test_a_customer_snippet_never_shows_internal_text(noted, owner):
    services.reply(ticket=noted, actor=owner, body="Invoice posting still fails.")
    for hit in search(PermSet(owner), "invoice posting").hits:
        assert "quokka" not in (hit.snippet_html or "")


def test_customers_of_another_organisation_find_nothing(ticket, outsider, other_org):
    mine = ticket_for(outsider, other_org, subject="Invoice run in Beta")
    assert numbers(outsider, "invoice") == [mine.number]
    assert numbers(outsider, ticket.number) == []
    assert numbers(outsider, "alpha") == []


def test_a_customer_finds_only_their_own_and_a_coordinator_their_organisations(
    ticket, owner, teammate, coordinator, org
):
    theirs = ticket_for(teammate, org, subject="Invoice of the teammate")
    assert numbers(owner, "invoice") == [ticket.number]
    assert sorted(numbers(coordinator, "invoice")) == sorted([ticket.number, theirs.number])


def test_a_restricted_agent_finds_only_their_organisations(ticket, operator, outsider, other_org):
    beta = ticket_for(outsider, other_org, subject="Invoice run in Beta")
    AgentRestriction.objects.create(user=operator, organisation=other_org)
    assert numbers(operator, "invoice") == [beta.number]
    assert numbers(operator, ticket.number) == []


def test_the_pages_are_for_their_surface(ticket, owner, operator, client_for, outsider):
    assert client_for(owner).get("/console/search/", {"q": "invoice"}).status_code == 403
    staff_page = client_for(operator).get("/portal/search/", {"q": "invoice"})
    assert staff_page.status_code == 302 and staff_page["Location"].startswith("/console/search/")
    page = client_for(owner).get("/portal/search/", {"q": "invoice"})
    assert page.status_code == 200 and ticket.number in page.content.decode()
    other = client_for(outsider).get("/portal/search/", {"q": "invoice"})
    assert ticket.number not in other.content.decode()
    assert f"/portal/requests/{ticket.number}/" in page.content.decode()


def test_anonymous_visitors_are_sent_to_sign_in(client, ticket):
    for url in ("/console/search/", "/portal/search/"):
        response = client.get(url, {"q": "invoice"})
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_header_box_is_on_console_and_portal_pages(owner, operator, client_for):
    assert 'action="/console/search/"' in client_for(operator).get("/console/").content.decode()
    assert 'action="/portal/search/"' in client_for(owner).get("/portal/").content.decode()


# -- writers keep the index in step -----------------------------------------------------


def test_a_reply_is_findable_at_once(ticket, owner, operator):
    services.reply(ticket=ticket, actor=operator, body="Please reinstall the flamingo driver.")
    assert numbers(owner, "flamingo") == [ticket.number]


def test_a_new_subject_replaces_the_old_one(ticket, operator):
    services.classify(ticket=ticket, actor=operator, subject="Warehouse labels misprinted")
    assert numbers(operator, "misprinted") == [ticket.number]
    assert numbers(operator, "invoice") == []  # only the old subject had the word


def test_attachment_names_are_searched(owner, org, operator):
    t = ticket_for(
        owner,
        org,
        subject="Screenshot",
        attachments=[
            SimpleUploadedFile("raport-lunar-ianuarie.png", PNG, content_type="image/png")
        ],
    )
    assert numbers(owner, "ianuarie") == [t.number]
    hit = search(PermSet(operator), "ianuarie").hits[0]
    assert "<mark>ianuarie</mark>" in hit.snippet_html


def test_renaming_the_reporter_or_the_organisation_updates_the_index(ticket, owner, org, operator):
    owner.first_name, owner.last_name = "Tudor", "Vlădescu"
    owner.save()
    assert numbers(operator, "vladescu") == [ticket.number]
    org.name = "Gamma Retail"
    org.save()
    assert numbers(operator, "gamma retail") == [ticket.number]
    assert numbers(operator, "alpha foods") == []


def test_a_sign_in_does_not_reindex(ticket, owner, django_assert_max_num_queries):
    from django.utils import timezone

    owner.last_login = timezone.now()
    with django_assert_max_num_queries(1):
        owner.save(update_fields=["last_login"])


def test_a_reply_by_mail_is_findable(ticket, owner, org):
    from aftercare.mail.ingest import ingest
    from aftercare.mail.tests.factories import make_mail

    owner.email = "ana@alpha.example"
    owner.save()
    org.mail_domains = "alpha.example"
    org.save()
    raw = make_mail(
        subject=f"RE: [{ticket.number}] Request received",
        body="The pelican report is attached now.",
    )
    result = ingest(raw)
    assert result.inbound.ticket == ticket
    assert numbers(owner, "pelican") == [ticket.number]


def test_a_new_request_by_mail_is_findable(owner, org):
    from aftercare.mail.ingest import ingest
    from aftercare.mail.tests.factories import make_mail

    owner.email = "ana@alpha.example"
    owner.save()
    org.mail_domains = "alpha.example"
    org.save()
    result = ingest(make_mail())
    assert numbers(owner, "negative balances") == [result.inbound.ticket.number]


def test_a_csv_import_is_findable(org, owner, operator):
    from aftercare.imports.csvio import import_csv

    data = (
        "external_id,subject,description,status,category,priority,reporter,assignee,created_at\n"
        f"X-1,Migrated albatross request,Old system text,backlog,incident,normal,{owner.email},,"
        "2025-01-05T10:00:00Z\n"
    ).encode()
    outcome = import_csv(data, org)
    assert not outcome.errors if hasattr(outcome, "errors") else True
    assert len(numbers(operator, "albatross")) == 1


def test_deleting_a_request_removes_it_from_the_index(ticket, operator):
    ticket.delete()
    assert not SearchDocument.objects.filter(ticket_id=ticket.pk).exists()
    assert numbers(operator, "invoice") == []


# -- the reindex command ----------------------------------------------------------------


def test_reindex_rebuilds_what_bulk_writes_left_out(ticket, operator):
    SearchDocument.objects.all().delete()
    assert numbers(operator, "invoice") == []
    call_command("search_reindex", stdout=__import__("io").StringIO())
    assert numbers(operator, "invoice") == [ticket.number]
    call_command("search_reindex", ticket.number, stdout=__import__("io").StringIO())
    assert numbers(operator, "invoice") == [ticket.number]


def test_reindex_is_refused_in_maintenance_mode(ticket):
    from aftercare.ops import maintenance

    SearchDocument.objects.all().delete()
    maintenance.switch(True, message="upgrading", by="tests")
    maintenance.forget()
    try:
        with pytest.raises(CommandError, match="maintenance"):
            call_command("search_reindex")
    finally:
        maintenance.switch(False)
        maintenance.forget()
    assert not SearchDocument.objects.exists()


def test_phone_requests_by_staff_are_indexed_too(operator, owner, org):
    t = services.open_ticket(
        actor=operator,
        organisation=org,
        reporter=owner,
        subject="Caller reports the kiosk is frozen",
        description="Called at nine.",
        category="incident",
        channel=Channel.PHONE,
    )
    assert numbers(owner, "kiosk") == [t.number]


# -- the queue's text filter ------------------------------------------------------------


def test_the_queue_filter_uses_full_text(ticket, owner, org, operator, client_for):
    other = ticket_for(owner, org, subject="Состояние склада", description="Déjà vu")
    services.reply(ticket=ticket, actor=operator, body="secret ostrich note", internal=True)
    client = client_for(operator)
    body = client.get("/console/", {"q": "состояние"}).content.decode()
    assert other.number in body and ticket.number not in body
    body = client.get("/console/", {"q": "deja"}).content.decode()
    assert other.number in body
    body = client.get("/console/", {"q": "ostrich"}).content.decode()
    assert ticket.number in body and other.number not in body


def test_the_queue_filter_keeps_older_matches_on_postgresql(
    owner, org, operator, client_for, monkeypatch
):
    from django.db import connection

    from aftercare.search import backend

    tickets = [ticket_for(owner, org, subject=f"Heron outage {i}") for i in range(3)]
    monkeypatch.setattr(backend, "FILTER_LIMIT", 2)
    body = client_for(operator).get("/console/", {"q": "heron"}).content.decode()
    found = [t.number in body for t in tickets]
    if connection.vendor == "postgresql":
        # Every match: the semi join looks the queue's requests up one by one.
        assert found == [True, True, True]
    else:
        # FTS5 keeps the newest FILTER_LIMIT matches.
        assert found == [False, True, True]


def test_results_come_in_pages_of_twenty(operator, owner, org, client_for):
    for i in range(23):
        ticket_for(owner, org, subject=f"Pelican report {i}")
    first = search(PermSet(operator), "pelican", page=1, size=20)
    second = search(PermSet(operator), "pelican", page=2, size=20)
    assert (len(first.hits), first.next_page, first.total) == (20, 2, 23)
    assert (len(second.hits), second.next_page, second.previous_page) == (3, None, 1)
    assert not {h.ticket.pk for h in first.hits} & {h.ticket.pk for h in second.hits}
    page = client_for(operator).get("/console/search/", {"q": "pelican", "page": "2"})
    assert page.content.decode().count('class="search-hit') == 3


def test_the_organisation_token_is_never_matched_as_text(ticket, operator, owner, org):
    assert numbers(operator, f"o{org.pk}") == []
    assert numbers(owner, "o") == [] and numbers(owner, f"o{org.pk}") == []
