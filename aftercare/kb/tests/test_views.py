import pytest
from django.urls import reverse

from aftercare.desk.models import Category, Event
from aftercare.desk.services import reply
from aftercare.desk.tests.factories import ticket_for
from aftercare.kb.models import Article, ArticleFeedback
from aftercare.kb.tests.factories import article
from aftercare.ops import maintenance

pytestmark = pytest.mark.django_db

WRITERS = ["operator", "consultant", "manager", "admin"]


def _new_data(product, **kw):
    data = {
        "product": product.pk,
        "kind": "howto",
        "visibility": "published",
        "version_from": "11.3",
        "version_to": "",
        "video_url": "",
        "language": "en",
        "title": "Posting invoices in bulk",
        "body": "Select the invoices.\n\n- Press **Post**",
    }
    data.update(kw)
    return data


# -- console ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["operator", "consultant", "developer", "manager", "admin"])
def test_every_agent_reads_the_console_pages(
    request, role, client_for, erp_article, internal_article
):
    client = client_for(request.getfixturevalue(role))
    body = client.get(reverse("kb:list")).content.decode()
    assert "Invoice export hangs" in body and "Internal runbook for invoices" in body
    response = client.get(reverse("kb:detail", args=[internal_article.pk]))
    assert response.status_code == 200
    assert "Internal runbook for invoices" in response.content.decode()


@pytest.mark.parametrize("role", WRITERS)
def test_writers_create_an_article(request, role, client_for, erp):
    user = request.getfixturevalue(role)
    client = client_for(user)
    assert client.get(reverse("kb:new")).status_code == 200
    response = client.post(reverse("kb:new"), _new_data(erp))
    created = Article.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("kb:detail", args=[created.pk])
    assert created.author == user and created.translations.get().title.startswith("Posting")


def test_a_developer_reads_but_does_not_write(developer, client_for, erp, erp_article):
    client = client_for(developer)
    assert client.get(reverse("kb:new")).status_code == 403
    assert client.post(reverse("kb:new"), _new_data(erp)).status_code == 403
    assert client.get(reverse("kb:edit", args=[erp_article.pk])).status_code == 403
    response = client.post(
        reverse("kb:detail", args=[erp_article.pk]),
        {"action": "text", "language": "ro", "text-ro-title": "x", "text-ro-body": "y"},
    )
    assert response.status_code == 403
    assert erp_article.translations.count() == 1
    page = client.get(reverse("kb:detail", args=[erp_article.pk])).content.decode()
    assert "kb-text-form-ro" not in page


@pytest.mark.parametrize("role", ["owner", "coordinator", "outsider"])
def test_customers_get_403_in_the_console(request, role, client_for, erp, erp_article):
    client = client_for(request.getfixturevalue(role))
    for url in (
        reverse("kb:list"),
        reverse("kb:new"),
        reverse("kb:detail", args=[erp_article.pk]),
        reverse("kb:edit", args=[erp_article.pk]),
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("kb:new"), _new_data(erp)).status_code == 403
    assert Article.objects.count() == 1


def test_a_restricted_agent_sees_only_their_customers_products(
    restricted, client_for, erp_article, internal_article, wms_article, wms
):
    client = client_for(restricted)
    body = client.get(reverse("kb:list")).content.decode()
    assert "Invoice export hangs" in body and "Internal runbook" in body
    assert "Scanner pairing fails" not in body and "Beta WMS" not in body
    assert client.get(reverse("kb:detail", args=[wms_article.pk])).status_code == 404
    assert client.get(reverse("kb:edit", args=[wms_article.pk])).status_code == 404
    response = client.post(
        reverse("kb:detail", args=[wms_article.pk]),
        {"action": "text", "language": "ro", "text-ro-title": "x", "text-ro-body": "y"},
    )
    assert response.status_code == 404
    # Naming the other customer's product in the form is refused (not in the choices).
    response = client.post(reverse("kb:new"), _new_data(wms))
    assert response.status_code == 400
    assert not Article.objects.filter(product=wms).exclude(pk=wms_article.pk).exists()
    assert "Beta WMS" not in client.get(reverse("kb:new")).content.decode()


def test_it_filters_and_searches_the_console_list(consultant, client_for, erp, wms_article):
    article(erp, title="Printing labels", kind="manual", body="Use the label printer.")
    article(erp, title="Fixing the printer", kind="workaround", visibility="internal")
    client = client_for(consultant)

    def titles(**query):
        return client.get(reverse("kb:list"), query).content.decode()

    body = titles(q="printer")
    assert "Printing labels" in body and "Fixing the printer" in body
    assert "Scanner pairing" not in body
    body = titles(kind="manual")
    assert "Printing labels" in body and "Fixing the printer" not in body
    body = titles(visibility="internal")
    assert "Fixing the printer" in body and "Printing labels" not in body
    body = titles(product=str(wms_article.product_id))
    assert "Scanner pairing" in body and "Printing labels" not in body


def test_it_keeps_a_bad_form_and_says_what_is_wrong(consultant, client_for, erp):
    response = client_for(consultant).post(
        reverse("kb:new"), _new_data(erp, kind="video", version_from="12", version_to="11")
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "A video article needs the link to the video." in body
    assert "Posting invoices in bulk" in body  # nothing typed is lost
    assert not Article.objects.exists()


def test_it_edits_texts_per_language_on_the_article_page(consultant, client_for, erp_article):
    client = client_for(consultant)
    url = reverse("kb:detail", args=[erp_article.pk])
    response = client.post(
        url,
        {"action": "text", "language": "uk", "text-uk-title": "Експорт", "text-uk-body": "Так"},
    )
    assert response.status_code == 302
    assert erp_article.translations.get(language="uk").title == "Експорт"
    response = client.post(url, {"action": "text", "language": "uk", "text-uk-title": ""})
    assert response.status_code == 400
    assert erp_article.translations.get(language="uk").title == "Експорт"
    response = client.post(url, {"action": "delete_text", "language": "uk"})
    assert response.status_code == 302
    assert not erp_article.translations.filter(language="uk").exists()


def test_it_edits_the_article_and_never_embeds_the_video(manager, client_for, erp_article, erp):
    client = client_for(manager)
    response = client.post(
        reverse("kb:edit", args=[erp_article.pk]),
        {
            "product": erp.pk,
            "kind": "video",
            "visibility": "internal",
            "video_url": "https://videos.example/x",
        },
    )
    assert response.status_code == 302
    erp_article.refresh_from_db()
    assert (erp_article.kind, erp_article.visibility) == ("video", "internal")
    body = client.get(reverse("kb:detail", args=[erp_article.pk])).content.decode()
    assert 'href="https://videos.example/x"' in body
    assert "<iframe" not in body and "<video" not in body


def test_the_console_shows_how_often_it_solved_a_problem(
    consultant, owner, client_for, erp_article
):
    client_for(owner).post(reverse("kb_portal:solved", args=[erp_article.pk]))
    body = client_for(consultant).get(reverse("kb:detail", args=[erp_article.pk])).content
    assert "1 reader said it solved their problem" in body.decode()


def test_the_nav_links_the_knowledge_base_for_those_who_may_see_it(
    consultant, owner, outsider, client_for, erp_article
):
    assert 'id="nav-kb"' in client_for(consultant).get(reverse("kb:list")).content.decode()
    assert 'id="nav-kb"' in client_for(owner).get(reverse("portal:list")).content.decode()


def test_it_refuses_writes_in_maintenance_mode(consultant, client_for, erp):
    maintenance.switch(True, by="tests")
    try:
        response = client_for(consultant).post(reverse("kb:new"), _new_data(erp))
    finally:
        maintenance.switch(False, by="tests")
    assert response.status_code == 503
    assert not Article.objects.exists()


# -- a documentation request becomes an article ------------------------------------------


@pytest.fixture
def doc_request(owner, org, erp, consultant):
    from aftercare.tenancy.models import System

    ticket = ticket_for(
        owner,
        org,
        category=Category.DOCUMENTATION,
        subject="How do I post invoices in bulk?",
        system=System.objects.get(organisation=org),
    )
    reply(ticket=ticket, actor=consultant, body="Select them all and press Post.")
    reply(ticket=ticket, actor=consultant, body="Secret internal hint", internal=True)
    return ticket


def test_the_request_page_offers_an_article_for_documentation_requests(
    consultant, developer, owner, org, client_for, doc_request
):
    url = reverse("console:ticket", args=[doc_request.number])
    assert 'id="kb-from-ticket"' in client_for(consultant).get(url).content.decode()
    assert 'id="kb-from-ticket"' not in client_for(developer).get(url).content.decode()
    other = ticket_for(owner, org, category=Category.INCIDENT)
    page = client_for(consultant).get(reverse("console:ticket", args=[other.number]))
    assert 'id="kb-from-ticket"' not in page.content.decode()


def test_it_prefills_the_article_from_the_request(consultant, client_for, doc_request, erp):
    response = client_for(consultant).get(reverse("kb:from-ticket", args=[doc_request.number]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "How do I post invoices in bulk?" in body
    assert "Select them all and press Post." in body
    assert "Secret internal hint" not in body
    assert f'<option value="{erp.pk}" selected>' in body


def test_it_publishes_the_answer_and_notes_it_on_the_request(
    consultant, owner, client_for, doc_request, erp
):
    response = client_for(consultant).post(
        reverse("kb:from-ticket", args=[doc_request.number]),
        _new_data(erp, title="Posting invoices in bulk"),
    )
    created = Article.objects.get()
    assert response["Location"] == reverse("kb:detail", args=[created.pk])
    assert created.source_ticket == doc_request
    event = Event.objects.get(ticket=doc_request, action="kb.article.created")
    assert event.is_internal
    staff_page = client_for(consultant).get(reverse("console:ticket", args=[doc_request.number]))
    note = f"#{created.pk} “Posting invoices in bulk”"
    assert note in event.note
    assert note in staff_page.content.decode()
    portal_page = client_for(owner).get(reverse("portal:detail", args=[doc_request.number]))
    assert portal_page.status_code == 200
    assert "Posting invoices in bulk" not in portal_page.content.decode()


def test_it_refuses_requests_out_of_reach(
    restricted, developer, outsider, other_org, owner, client_for, erp
):
    beta = ticket_for(outsider, other_org, category=Category.DOCUMENTATION)
    url = reverse("kb:from-ticket", args=[beta.number])
    assert client_for(restricted).get(url).status_code == 404
    assert client_for(restricted).post(url, _new_data(erp)).status_code == 404
    assert client_for(developer).post(url, _new_data(erp)).status_code == 403
    assert client_for(owner).get(url).status_code == 403
    assert not Article.objects.exists()


# -- portal -----------------------------------------------------------------------------


def test_a_customer_reads_published_articles_of_their_products(
    owner, client_for, erp_article, internal_article, wms_article
):
    client = client_for(owner)
    body = client.get(reverse("kb_portal:list")).content.decode()
    assert "Invoice export hangs" in body
    assert "Internal runbook" not in body and "Scanner pairing" not in body
    page = client.get(reverse("kb_portal:detail", args=[erp_article.pk]))
    assert page.status_code == 200 and "Restart the export service." in page.content.decode()


def test_a_customer_of_another_product_gets_404(
    owner, outsider, client_for, erp_article, internal_article, wms_article
):
    client = client_for(owner)
    for a in (wms_article, internal_article):
        assert client.get(reverse("kb_portal:detail", args=[a.pk])).status_code == 404
        assert client.post(reverse("kb_portal:solved", args=[a.pk])).status_code == 404
        assert client.get(reverse("kb_portal:solved", args=[a.pk])).status_code == 404
    assert not ArticleFeedback.objects.exists()
    other = client_for(outsider)
    assert other.get(reverse("kb_portal:detail", args=[erp_article.pk])).status_code == 404
    body = other.get(reverse("kb_portal:list"), {"q": "invoice"}).content.decode()
    assert "Invoice export hangs" not in body


def test_an_agent_reads_nothing_on_the_portal(operator, client_for, erp_article):
    client = client_for(operator)
    assert "Invoice export hangs" not in client.get(reverse("kb_portal:list")).content.decode()
    assert client.get(reverse("kb_portal:detail", args=[erp_article.pk])).status_code == 404


def test_the_portal_shows_the_readers_language(owner, client_for, erp_article):
    from aftercare.kb.models import ArticleText

    ArticleText.objects.create(article=erp_article, language="ro", title="Exportul se blochează")
    owner.language = "ro"
    owner.save()
    body = client_for(owner).get(reverse("kb_portal:detail", args=[erp_article.pk])).content
    assert "Exportul se blochează" in body.decode()
    owner.language = "fr"
    owner.save()
    body = client_for(owner).get(reverse("kb_portal:list")).content.decode()
    assert "Invoice export hangs" in body  # English when there is no French text


def test_it_counts_this_solved_my_problem_once_per_user(
    owner, coordinator, client_for, erp_article
):
    url = reverse("kb_portal:solved", args=[erp_article.pk])
    client = client_for(owner)
    assert client.post(url).status_code == 302
    assert client.post(url).status_code == 302
    assert client_for(coordinator).post(url).status_code == 302
    erp_article.refresh_from_db()
    assert erp_article.solved_count == 2
    assert ArticleFeedback.objects.filter(article=erp_article).count() == 2
    page = client.get(reverse("kb_portal:detail", args=[erp_article.pk])).content.decode()
    assert "You told us this article solved your problem" in page
    assert client.get(url).status_code == 405


def test_it_suggests_matching_articles_while_typing(
    owner, client_for, erp, erp_article, internal_article, wms_article
):
    for i in range(7):
        article(erp, title=f"Invoice topic {i}")
    client = client_for(owner)
    body = client.get(reverse("kb_portal:suggest"), {"q": "invoice export"}).content.decode()
    assert body.count("<li>") == 5
    assert body.index("Invoice export hangs") < body.index("Invoice topic")
    assert reverse("kb_portal:detail", args=[erp_article.pk]) in body
    assert "Internal runbook" not in body
    body = client.get(reverse("kb_portal:suggest"), {"subject": "scanner pairing"}).content
    assert "Scanner pairing" not in body.decode()
    assert client.get(reverse("kb_portal:suggest"), {"q": "a"}).content.strip() == b""


def test_the_new_request_form_asks_for_suggestions(owner, client_for, erp):
    body = client_for(owner).get(reverse("portal:new")).content.decode()
    assert f'hx-get="{reverse("kb_portal:suggest")}"' in body
    assert 'hx-trigger="keyup changed delay:400ms"' in body
    assert 'id="kb-suggest"' in body


def test_portal_pages_render_markup_safely(owner, client_for, erp):
    a = article(erp, body="<script>alert(1)</script> **bold**")
    body = client_for(owner).get(reverse("kb_portal:detail", args=[a.pk])).content.decode()
    assert "<script>alert(1)" not in body and "<strong>bold</strong>" in body


# -- demo -------------------------------------------------------------------------------


def test_the_demo_has_a_translated_published_and_an_internal_article():
    import io

    from django.core.management import call_command

    call_command("demo_load", stdout=io.StringIO())
    erp = Article.objects.filter(product__name="Aftercare ERP")
    published = erp.filter(visibility="published", translations__language="ru").get()
    assert set(published.translations.values_list("language", flat=True)) == {
        "en",
        "ro",
        "fr",
        "uk",
        "ru",
    }
    assert erp.filter(visibility="internal").exists()


@pytest.mark.parametrize(("who", "name"), [("consultant", "kb:list"), ("owner", "kb_portal:list")])
def test_lists_take_no_query_per_article(request, who, name, client_for, erp, erp_article):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(request.getfixturevalue(who))
    client.get(reverse(name))  # warm the session and the maintenance flag
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse(name)).status_code == 200
    for i in range(8):
        article(erp, title=f"More on invoices {i}", language="ro" if i % 2 else "en")
    with CaptureQueriesContext(connection) as many:
        body = client.get(reverse(name)).content.decode()
    assert "More on invoices 7" in body
    assert len(many) == len(few)
