"""Writing the knowledge base: every rule about who may write what, in one place.

Views, the demo and tests call these functions, so a rule holds on every path. Each write
checks maintenance mode first, then the actor's permission (``kb.add_article`` to create,
``kb.change_article`` to change) and reach: an agent restricted to some customers writes
only articles of the products those customers run. Each change leaves an
``ArticleEvent`` (who, what, when). Readers' "this solved my problem" is counted once per
person, and only by someone who may read the article on the portal.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from aftercare.accounts.models import User
from aftercare.accounts.roles import PermSet
from aftercare.desk.models import Category, Message, Ticket
from aftercare.kb.models import Article, ArticleEvent, ArticleFeedback, ArticleText
from aftercare.kb.querysets import portal_articles, products_run_by, staff_articles
from aftercare.lifecycle.models import Product, version_key
from aftercare.ops.maintenance import check_writable

ADD_PERMISSION = "kb.add_article"
CHANGE_PERMISSION = "kb.change_article"
LANGUAGES = [code for code, _name in settings.LANGUAGES]
TITLE_MAX = 250
BODY_MAX = 100_000
_video_url = URLValidator(schemes=["http", "https"])


def may_write(permset: PermSet, permission: str = ADD_PERMISSION) -> bool:
    return permset.is_agent and permset.has(permission)


def _check_writer(actor: User, product: Product, permission: str) -> PermSet:
    permset = PermSet(actor)
    if not may_write(permset, permission):
        raise PermissionDenied(_("You may not write knowledge-base articles."))
    scope = permset.organisation_scope
    if scope is not None and product.name not in products_run_by(scope):
        raise PermissionDenied(_("You may not write articles about this product."))
    return permset


def _clean_fields(
    *, kind: str, visibility: str, version_from: str, version_to: str, video_url: str
) -> dict:
    errors: dict[str, list[str]] = {}
    if kind not in Article.Kind.values:
        errors["kind"] = [_("Choose a kind of article.")]
    if visibility not in Article.Visibility.values:
        errors["visibility"] = [_("Choose who may read the article.")]
    version_from, version_to = (version_from or "").strip(), (version_to or "").strip()
    for name, value in (("version_from", version_from), ("version_to", version_to)):
        if len(value) > 64:
            errors[name] = [_("A version has at most 64 characters.")]
    if version_from and version_to and version_key(version_from) > version_key(version_to):
        errors["version_to"] = [
            _("“To version” %(to)s comes before “from version” %(from)s.")
            % {"to": version_to, "from": version_from}
        ]
    video_url = (video_url or "").strip()
    if video_url:
        try:
            _video_url(video_url)
        except ValidationError:
            errors["video_url"] = [_("Enter a web address starting with https:// or http://.")]
    elif kind == Article.Kind.VIDEO:
        errors["video_url"] = [_("A video article needs the link to the video.")]
    if errors:
        raise ValidationError(errors)
    return {
        "kind": kind,
        "visibility": visibility,
        "version_from": version_from,
        "version_to": version_to,
        "video_url": video_url,
    }


def _clean_text(language: str, title: str, body: str) -> tuple[str, str, str]:
    errors: dict[str, list[str]] = {}
    if language not in LANGUAGES:
        errors["language"] = [_("Choose one of the languages.")]
    title, body = (title or "").strip(), (body or "").strip()
    if not title:
        errors["title"] = [_("Give the article a title.")]
    elif len(title) > TITLE_MAX:
        errors["title"] = [_("A title has at most 250 characters.")]
    if len(body) > BODY_MAX:
        errors["body"] = [_("The text is too long (at most 100,000 characters).")]
    if errors:
        raise ValidationError(errors)
    return language, title, body


def _audit(article: Article, actor: User | None, action: str, note: str = "") -> None:
    ArticleEvent.objects.create(article=article, actor=actor, action=action, note=note)


@transaction.atomic
def create_article(
    *,
    actor: User,
    product: Product,
    language: str,
    title: str,
    body: str = "",
    kind: str = Article.Kind.HOWTO,
    visibility: str = Article.Visibility.INTERNAL,
    version_from: str = "",
    version_to: str = "",
    video_url: str = "",
    source_ticket: Ticket | None = None,
) -> Article:
    """A new article with its first text; every mistake is reported at once."""
    check_writable()
    _check_writer(actor, product, ADD_PERMISSION)
    errors: dict[str, list[str]] = {}
    fields: dict = {}
    text: tuple[str, str, str] | None = None
    try:
        fields = _clean_fields(
            kind=kind,
            visibility=visibility,
            version_from=version_from,
            version_to=version_to,
            video_url=video_url,
        )
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        text = _clean_text(language, title, body)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors or text is None:
        raise ValidationError(errors)
    now = timezone.now()
    article = Article.objects.create(
        product=product,
        author=actor,
        source_ticket=source_ticket,
        created_at=now,
        updated_at=now,
        **fields,
    )
    ArticleText.objects.create(
        article=article, language=text[0], title=text[1], body=text[2], updated_at=now
    )
    _audit(article, actor, "kb.article.created", f"{fields['visibility']} · {text[1]}")
    return article


def _locked(article: Article, actor: User, permission: str) -> Article:
    fresh = Article.objects.select_for_update().select_related("product").filter(pk=article.pk)
    fresh = fresh.first()
    if fresh is None:
        raise ValidationError(_("This article no longer exists."))
    permset = _check_writer(actor, fresh.product, permission)
    if not staff_articles(permset).filter(pk=fresh.pk).exists():
        raise PermissionDenied(_("You may not change this article."))
    return fresh


@transaction.atomic
def update_article(
    *,
    article: Article,
    actor: User,
    product: Product,
    kind: str,
    visibility: str,
    version_from: str = "",
    version_to: str = "",
    video_url: str = "",
) -> Article:
    """Change what the article is about and who reads it (its texts are separate)."""
    check_writable()
    fresh = _locked(article, actor, CHANGE_PERMISSION)
    if product.pk != fresh.product_id:
        _check_writer(actor, product, CHANGE_PERMISSION)  # may they move it there?
    fields = _clean_fields(
        kind=kind,
        visibility=visibility,
        version_from=version_from,
        version_to=version_to,
        video_url=video_url,
    )
    changed = [
        name
        for name, value in [("product_id", product.pk), *fields.items()]
        if getattr(fresh, name) != value
    ]
    if not changed:
        return fresh
    old_visibility = fresh.visibility
    fresh.product = product
    for name, value in fields.items():
        setattr(fresh, name, value)
    fresh.updated_at = timezone.now()
    fresh.save()
    note = ", ".join(n.removesuffix("_id") for n in changed)
    if old_visibility != fresh.visibility:
        note += f" · {old_visibility} → {fresh.visibility}"
    _audit(fresh, actor, "kb.article.changed", note)
    return fresh


@transaction.atomic
def save_text(
    *, article: Article, actor: User, language: str, title: str, body: str
) -> ArticleText:
    """Add or replace the article's text in one language."""
    check_writable()
    fresh = _locked(article, actor, CHANGE_PERMISSION)
    language, title, body = _clean_text(language, title, body)
    now = timezone.now()
    text, created = ArticleText.objects.update_or_create(
        article=fresh,
        language=language,
        defaults={"title": title, "body": body, "updated_at": now},
    )
    Article.objects.filter(pk=fresh.pk).update(updated_at=now)
    _audit(fresh, actor, "kb.text.added" if created else "kb.text.changed", language)
    return text


@transaction.atomic
def delete_text(*, article: Article, actor: User, language: str) -> None:
    """Remove one language's text; the last text stays (an article needs a title)."""
    check_writable()
    fresh = _locked(article, actor, CHANGE_PERMISSION)
    texts = ArticleText.objects.filter(article=fresh)
    if not texts.filter(language=language).exists():
        raise ValidationError(_("The article has no text in that language."))
    if texts.count() == 1:
        raise ValidationError(_("An article keeps at least one language."))
    texts.filter(language=language).delete()
    Article.objects.filter(pk=fresh.pk).update(updated_at=timezone.now())
    _audit(fresh, actor, "kb.text.deleted", language)


# -- answering a documentation request ---------------------------------------------------


def latest_public_reply(ticket: Ticket) -> Message | None:
    """The newest public message on the request (what the customer was told)."""
    return (
        Message.objects.filter(ticket=ticket, kind=Message.Kind.PUBLIC)
        .order_by("-created_at", "-pk")
        .first()
    )


def product_of(ticket: Ticket) -> Product | None:
    """The catalogue product of the request's system, when it has one."""
    if ticket.system_id is None:
        return None
    return Product.objects.filter(name=ticket.system.product).first()


def check_documentation_request(ticket: Ticket, actor: User) -> None:
    """Only a documentation request the agent can see becomes an article."""
    permset = PermSet(actor)
    if not permset.may_view_ticket(ticket) or not permset.is_agent:
        raise PermissionDenied(_("You may not see this request."))
    if ticket.category != Category.DOCUMENTATION:
        raise ValidationError(_("Only a documentation request can become an article."))


@transaction.atomic
def create_from_ticket(*, ticket: Ticket, actor: User, **article_fields) -> Article:
    """An article answering a documentation request, linked to it; the request's
    timeline gets an internal system note naming the article."""
    check_writable()
    check_documentation_request(ticket, actor)
    article = create_article(actor=actor, source_ticket=ticket, **article_fields)
    from aftercare.desk.notes import deferred, label
    from aftercare.desk.services import system_note

    title = article.translations.get().title
    system_note(
        ticket=ticket,
        action="kb.article.created",
        note=deferred(
            gettext_noop(
                "Knowledge-base article #%(id)s “%(title)s” (%(visibility)s) written by %(who)s."
            ),
            id=article.pk,
            title=title,
            visibility=label(Article.Visibility(article.visibility).label),
            who=actor.get_full_name() or actor.username,
        ),
    )
    return article


# -- readers' feedback --------------------------------------------------------------------


def mark_solved(*, article: Article, user: User) -> bool:
    """Count that the article solved the reader's problem; True when newly counted.

    Only a reader who may see the article on the portal counts, and each one once: the
    unique row decides, so two quick clicks still count once.
    """
    check_writable()
    if not portal_articles(PermSet(user)).filter(pk=article.pk).exists():
        raise PermissionDenied(_("You may not read this article."))
    try:
        with transaction.atomic():
            ArticleFeedback.objects.create(article=article, user=user)
            Article.objects.filter(pk=article.pk).update(solved_count=F("solved_count") + 1)
    except IntegrityError:
        return False
    return True
