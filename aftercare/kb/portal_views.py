"""The customers' knowledge base (``kb_portal:``): published articles of the products
their organisations run, in the reader's language (else English, else any).

Everything is fetched through ``querysets.portal_articles``: an article of a product the
reader's organisations do not run is a 404, and never appears in a list or a suggestion.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from aftercare.kb import services
from aftercare.kb.markup import render as render_body
from aftercare.kb.models import Article, ArticleFeedback, ArticleText
from aftercare.kb.querysets import portal_articles, search, with_texts
from aftercare.lifecycle.models import Product
from aftercare.tenancy.models import System

PAGE_SIZE = 30
SUGGESTIONS = 5
SUGGEST_CANDIDATES = 50
MIN_WORD = 3


@login_required
def article_list(request: HttpRequest) -> HttpResponse:
    permset = request.permset
    rows = portal_articles(permset)
    query = request.GET.get("q", "").strip()[:200]
    if query:
        rows = search(rows, query)
    products = list(Product.objects.filter(pk__in=portal_articles(permset).values("product_id")))
    product = request.GET.get("product", "")
    if product.isdigit():
        rows = rows.filter(product_id=int(product))
    page = Paginator(with_texts(rows), PAGE_SIZE).get_page(request.GET.get("page"))
    language = request.LANGUAGE_CODE
    return render(
        request,
        "kb/portal_list.html",
        {
            "page": page,
            "rows": [(a, a.text_in(language)) for a in page.object_list],
            "query": query,
            "products": products,
            "product": product,
            "nav": "kb",
        },
    )


def _article_for(request: HttpRequest, article_id: int) -> Article:
    article = with_texts(portal_articles(request.permset)).filter(pk=article_id).first()
    if article is None:
        raise Http404("No such article")
    return article


@login_required
def article_detail(request: HttpRequest, article_id: int) -> HttpResponse:
    article = _article_for(request, article_id)
    text = article.text_in(request.LANGUAGE_CODE)
    own = list(request.permset.memberships)
    systems = list(
        System.objects.filter(organisation_id__in=own, product=article.product.name)
        .select_related("organisation")
        .order_by("organisation__name", "name")
    )
    return render(
        request,
        "kb/portal_detail.html",
        {
            "article": article,
            "text": text,
            "html": render_body(text.body) if text else "",
            "systems": [(s, article.applies_to(s.version)) for s in systems],
            "solved": ArticleFeedback.objects.filter(article=article, user=request.user).exists(),
            "nav": "kb",
        },
    )


@login_required
def solved(request: HttpRequest, article_id: int) -> HttpResponse:
    """ "This solved my problem": counted once per reader."""
    article = _article_for(request, article_id)  # 404 before anything else
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        counted = services.mark_solved(article=article, user=request.user)
    except PermissionDenied:
        raise Http404("No such article") from None
    if counted:
        messages.success(request, _("Thank you: we are glad the article helped."))
    else:
        messages.info(request, _("You already told us this article solved your problem."))
    return redirect("kb_portal:detail", article_id=article.pk)


def _words(text: str) -> list[str]:
    words = [w.strip(".,;:!?()[]\"'«»") for w in text.split()]
    return [w for w in dict.fromkeys(w.lower() for w in words) if len(w) >= MIN_WORD][:8]


def suggestions(permset, text: str, language: str) -> list[tuple[Article, ArticleText]]:
    """Up to five published articles matching what the customer typed, best first
    (words in the title count twice as much as words in the text)."""
    words = _words(text)
    if not words:
        return []
    condition = Q()
    for word in words:
        condition |= Q(title__icontains=word) | Q(body__icontains=word)
    matching = ArticleText.objects.filter(condition).values("article_id")
    rows = with_texts(portal_articles(permset).filter(pk__in=matching))[:SUGGEST_CANDIDATES]
    scored = []
    for article in rows:
        score = 0
        for t in article.translations.all():
            title, body = t.title.lower(), t.body.lower()
            score = max(score, sum(2 * (w in title) + (w in body) for w in words))
        text_ = article.text_in(language)
        if score and text_ is not None:
            scored.append((score, article.solved_count, article.pk, article, text_))
    scored.sort(key=lambda s: (-s[0], -s[1], -s[2]))
    return [(s[3], s[4]) for s in scored[:SUGGESTIONS]]


@login_required
def suggest(request: HttpRequest) -> HttpResponse:
    """The new-request form's suggestions (an htmx fragment; ``q`` or the subject)."""
    text = (request.GET.get("q") or request.GET.get("subject") or "")[:250]
    return render(
        request,
        "kb/_suggest.html",
        {"suggestions": suggestions(request.permset, text, request.LANGUAGE_CODE)},
    )
