"""Who may read which article: one answer for the console, the portal and the services.

Articles belong to a product, not to an organisation, so reach is by product: an
unrestricted agent reads every article; an agent restricted to some customers reads the
articles (internal and published) of the products those customers run; a customer reads
the published articles of the products their own organisations run. "Runs" means a
``tenancy.System`` of the organisation names the product (``System.product``).
"""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from aftercare.accounts.roles import PermSet
from aftercare.kb.models import Article, ArticleText
from aftercare.tenancy.models import System

VIEW_PERMISSION = "kb.view_article"


def products_run_by(organisation_ids) -> list[str]:
    """Product names the organisations run (explicit ids: the caller decided who)."""
    return sorted(
        set(
            System.objects.with_scopes_disabled()
            .filter(organisation_id__in=list(organisation_ids), organisation__is_active=True)
            .values_list("product", flat=True)
        )
    )


def staff_articles(permset: PermSet) -> QuerySet[Article]:
    """The console's articles: none for customers or staff without the permission."""
    rows = Article.objects.select_related("product", "author")
    if not (permset.is_agent and permset.has(VIEW_PERMISSION)):
        return rows.none()
    scope = permset.organisation_scope
    if scope is None:
        return rows
    return rows.filter(product__name__in=products_run_by(scope))


def portal_articles(permset: PermSet) -> QuerySet[Article]:
    """The portal's articles: published, of the products the reader's organisations run.

    Membership decides, whatever else the person may be (an agent who opens the portal
    reads only what their own organisations would), as on the portal's other pages.
    """
    rows = Article.objects.select_related("product")
    if not permset.is_authenticated or not permset.memberships:
        return rows.none()
    return rows.filter(
        visibility=Article.Visibility.PUBLISHED,
        product__name__in=products_run_by(permset.memberships),
    )


def with_texts(rows: QuerySet[Article]) -> QuerySet[Article]:
    return rows.prefetch_related(
        Prefetch("translations", queryset=ArticleText.objects.order_by("language"))
    )


def search(rows: QuerySet[Article], query: str) -> QuerySet[Article]:
    """Articles whose title or text (in any language) contains every word of ``query``."""
    for word in query.split()[:8]:
        matching = ArticleText.objects.filter(
            Q(title__icontains=word) | Q(body__icontains=word)
        ).values("article_id")
        rows = rows.filter(pk__in=matching)
    return rows
