import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError

from aftercare.accounts.roles import PermSet
from aftercare.desk.models import Category, Event
from aftercare.desk.tests.factories import ticket_for
from aftercare.kb import services
from aftercare.kb.markup import render
from aftercare.kb.models import Article, ArticleEvent, ArticleText
from aftercare.kb.querysets import portal_articles, staff_articles
from aftercare.kb.tests.factories import article
from aftercare.ops import maintenance

pytestmark = pytest.mark.django_db


def _new(actor, product, **kw):
    fields = {"language": "en", "title": "How to export", "body": "Step one."}
    fields.update(kw)
    return services.create_article(actor=actor, product=product, **fields)


def test_it_creates_an_article_with_its_first_text_and_audits_it(consultant, erp):
    a = _new(consultant, erp, visibility="published", version_from="11.3")
    assert a.author == consultant and a.is_published and a.version_from == "11.3"
    assert a.translations.get().title == "How to export"
    assert ArticleEvent.objects.get(article=a).action == "kb.article.created"


def test_it_refuses_a_developer_and_a_customer(developer, owner, erp):
    for user in (developer, owner):
        with pytest.raises(PermissionDenied):
            _new(user, erp)
    assert not Article.objects.exists()


def test_it_refuses_a_restricted_agent_another_customers_product(restricted, erp, wms):
    assert _new(restricted, erp).product == erp
    with pytest.raises(PermissionDenied):
        _new(restricted, wms)
    wms_row = article(wms)
    with pytest.raises(PermissionDenied):
        services.save_text(article=wms_row, actor=restricted, language="ro", title="x", body="y")


def test_it_reports_every_mistake_at_once_and_writes_nothing(consultant, erp):
    with pytest.raises(ValidationError) as exc:
        _new(
            consultant,
            erp,
            title=" ",
            kind="video",
            version_from="11.10",
            version_to="11.9",
            language="de",
        )
    errors = exc.value.message_dict
    assert set(errors) == {"title", "video_url", "version_to", "language"}
    assert not Article.objects.exists()


def test_it_accepts_only_web_links_for_videos(consultant, erp):
    with pytest.raises(ValidationError) as exc:
        _new(consultant, erp, kind="video", video_url="javascript:alert(1)")
    assert "video_url" in exc.value.message_dict
    a = _new(consultant, erp, kind="video", video_url="https://videos.example/a")
    assert a.video_url == "https://videos.example/a"


def test_it_saves_texts_per_language_and_keeps_the_last_one(consultant, erp):
    a = _new(consultant, erp)
    services.save_text(article=a, actor=consultant, language="ro", title="Export", body="Pas.")
    services.save_text(article=a, actor=consultant, language="ro", title="Exportul", body="Pas.")
    assert dict(a.translations.values_list("language", "title")) == {
        "en": "How to export",
        "ro": "Exportul",
    }
    services.delete_text(article=a, actor=consultant, language="en")
    with pytest.raises(ValidationError):
        services.delete_text(article=a, actor=consultant, language="ro")
    assert list(ArticleEvent.objects.filter(article=a).values_list("action", flat=True)) == [
        "kb.text.deleted",
        "kb.text.changed",
        "kb.text.added",
        "kb.article.created",
    ]


def test_it_updates_the_article_and_audits_the_visibility(manager, erp):
    a = _new(manager, erp)
    services.update_article(
        article=a, actor=manager, product=erp, kind="workaround", visibility="published"
    )
    a.refresh_from_db()
    assert (a.kind, a.visibility) == ("workaround", "published")
    assert "internal → published" in a.events.first().note


def test_it_refuses_writes_in_maintenance_mode(consultant, erp):
    maintenance.switch(True, by="tests")
    try:
        with pytest.raises(maintenance.MaintenanceError):
            _new(consultant, erp)
    finally:
        maintenance.switch(False, by="tests")
    assert not Article.objects.exists()


def test_it_checks_versions_against_the_range(erp):
    a = article(erp, version_from="11.3", version_to="11.10")
    assert a.applies_to("11.3") and a.applies_to("11.9") and a.applies_to("11.10")
    assert a.applies_to("11.2") is False and a.applies_to("12.0") is False
    assert a.applies_to("") is None


def test_it_falls_back_to_english_then_any_language(erp):
    a = article(erp, language="fr", title="Bonjour")
    assert a.text_in("ru").title == "Bonjour"
    ArticleText.objects.create(article=a, language="en", title="Hello")
    ArticleText.objects.create(article=a, language="ru", title="Привет")
    assert a.text_in("ru").title == "Привет"
    assert a.text_in("uk").title == "Hello"


def test_it_lets_customers_read_only_published_articles_of_their_products(
    owner, outsider, erp_article, internal_article, wms_article
):
    assert list(portal_articles(PermSet(owner))) == [erp_article]
    assert list(portal_articles(PermSet(outsider))) == [wms_article]


def test_it_lets_a_restricted_agent_read_only_their_customers_products(
    restricted, consultant, erp_article, internal_article, wms_article
):
    assert set(staff_articles(PermSet(restricted))) == {erp_article, internal_article}
    assert set(staff_articles(PermSet(consultant))) == {
        erp_article,
        internal_article,
        wms_article,
    }


def test_it_counts_a_solved_problem_once_per_reader(owner, coordinator, erp_article):
    assert services.mark_solved(article=erp_article, user=owner) is True
    assert services.mark_solved(article=erp_article, user=owner) is False
    assert services.mark_solved(article=erp_article, user=coordinator) is True
    erp_article.refresh_from_db()
    assert erp_article.solved_count == 2


def test_it_does_not_count_a_reader_who_may_not_read_it(
    outsider, owner, wms_article, internal_article
):
    with pytest.raises(PermissionDenied):
        services.mark_solved(article=wms_article, user=owner)
    with pytest.raises(PermissionDenied):
        services.mark_solved(article=internal_article, user=owner)
    wms_article.refresh_from_db()
    assert wms_article.solved_count == 0


def test_the_database_refuses_a_second_feedback_row(owner, erp_article):
    from aftercare.kb.models import ArticleFeedback

    ArticleFeedback.objects.create(article=erp_article, user=owner)
    with pytest.raises(IntegrityError):
        ArticleFeedback.objects.create(article=erp_article, user=owner)


def test_it_answers_a_documentation_request_with_an_article(owner, org, consultant, erp):
    ticket = ticket_for(owner, org, category=Category.DOCUMENTATION, subject="Export manual?")
    a = services.create_from_ticket(
        ticket=ticket,
        actor=consultant,
        product=erp,
        language="en",
        title="Export manual",
        body="Here it is.",
        visibility="published",
    )
    assert a.source_ticket == ticket
    note = Event.objects.get(ticket=ticket, action="kb.article.created")
    assert note.is_internal and f"#{a.pk}" in note.note
    # A system note: each reader sees it in their own language.
    from django.utils import translation

    with translation.override("fr"):
        assert f"#{a.pk}" in note.display_note and "Export manual" in note.display_note
        assert note.display_note != note.note


def test_it_refuses_an_article_from_another_kind_of_request(owner, org, consultant, erp):
    ticket = ticket_for(owner, org, category=Category.INCIDENT)
    with pytest.raises(ValidationError):
        services.create_from_ticket(
            ticket=ticket, actor=consultant, product=erp, language="en", title="x"
        )
    assert not Article.objects.exists()


def test_it_refuses_a_restricted_agent_another_customers_request(
    outsider, other_org, restricted, erp
):
    ticket = ticket_for(outsider, other_org, category=Category.DOCUMENTATION)
    with pytest.raises(PermissionDenied):
        services.create_from_ticket(
            ticket=ticket, actor=restricted, product=erp, language="en", title="x"
        )
    assert not Event.objects.filter(action="kb.article.created").exists()


def test_it_renders_text_safely():
    html = render(
        "# Title\n<script>alert(1)</script>\n\n- **one** `<b>`\n- two\n\n"
        "see https://example.com/a?b=1&c=2. and javascript:alert(1)"
    )
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<h2>Title</h2>" in html
    assert "<ul><li><strong>one</strong> <code>&lt;b&gt;</code></li><li>two</li></ul>" in html
    assert 'href="https://example.com/a?b=1&amp;c=2"' in html
    assert 'rel="nofollow noopener noreferrer"' in html
    assert 'href="javascript' not in html
