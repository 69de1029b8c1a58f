"""The console's knowledge base (``kb:``).

Every page checks ``kb.view_article`` first (a customer gets 403 whatever the address
names), fetches through ``querysets.staff_articles`` (404 for an article of a product the
agent's customers do not run), and only then asks whether the agent may write (403). The
services repeat the write checks, so a view cannot forget them.
"""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from aftercare.desk.models import Category
from aftercare.desk.querysets import visible_tickets
from aftercare.kb import services
from aftercare.kb.forms import ArticleForm, NewArticleForm, TextForm, add_service_errors
from aftercare.kb.markup import render as render_body
from aftercare.kb.models import Article
from aftercare.kb.querysets import (
    VIEW_PERMISSION,
    products_run_by,
    search,
    staff_articles,
    with_texts,
)
from aftercare.lifecycle.models import Product

PAGE_SIZE = 50
EVENTS_SHOWN = 30


def staff_required(view):
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        permset = request.permset
        if not permset.is_agent or not permset.has(VIEW_PERMISSION):
            raise PermissionDenied(_("These pages are for the service desk's staff."))
        return view(request, *args, **kwargs)

    return wrapper


def _products(permset):
    scope = permset.organisation_scope
    if scope is None:
        return Product.objects.all()
    return Product.objects.filter(name__in=products_run_by(scope))


def _article_for(request: HttpRequest, article_id: int) -> Article:
    article = staff_articles(request.permset).filter(pk=article_id).first()
    if article is None:
        raise Http404("No such article")
    return article


@staff_required
def article_list(request: HttpRequest) -> HttpResponse:
    permset = request.permset
    rows = staff_articles(permset)
    query = request.GET.get("q", "").strip()[:200]
    products = list(_products(permset))
    product = request.GET.get("product", "")
    kind = request.GET.get("kind", "")
    visibility = request.GET.get("visibility", "")
    if query:
        rows = search(rows, query)
    if product.isdigit():
        rows = rows.filter(product_id=int(product))
    if kind in Article.Kind.values:
        rows = rows.filter(kind=kind)
    if visibility in Article.Visibility.values:
        rows = rows.filter(visibility=visibility)
    page = Paginator(with_texts(rows), PAGE_SIZE).get_page(request.GET.get("page"))
    language = request.LANGUAGE_CODE
    return render(
        request,
        "kb/list.html",
        {
            "page": page,
            "rows": [(a, a.text_in(language)) for a in page.object_list],
            "query": query,
            "products": products,
            "product": product,
            "kind": kind,
            "visibility": visibility,
            "kinds": Article.Kind.choices,
            "visibilities": Article.Visibility.choices,
            "may_write": services.may_write(permset),
            "nav": "kb",
        },
    )


def _create(request: HttpRequest, form: NewArticleForm, ticket=None) -> Article | None:
    if not form.is_valid():
        return None
    data = form.cleaned_data
    fields = {k: data[k] for k in NewArticleForm.base_fields}
    try:
        if ticket is None:
            return services.create_article(actor=request.user, **fields)
        return services.create_from_ticket(ticket=ticket, actor=request.user, **fields)
    except ValidationError as exc:
        add_service_errors(form, exc)
    return None


@staff_required
def article_new(request: HttpRequest) -> HttpResponse:
    permset = request.permset
    if not services.may_write(permset):
        raise PermissionDenied(_("You may not write knowledge-base articles."))
    products = _products(permset)
    if request.method == "POST":
        form = NewArticleForm(request.POST, products=products)
        article = _create(request, form)
        if article is not None:
            messages.success(request, _("Article saved."))
            return redirect("kb:detail", article_id=article.pk)
    else:
        form = NewArticleForm(products=products, initial={"language": request.LANGUAGE_CODE})
    return render(
        request,
        "kb/new.html",
        {"form": form, "ticket": None, "nav": "kb"},
        status=400 if form.is_bound else 200,
    )


@staff_required
def from_ticket(request: HttpRequest, number: str) -> HttpResponse:
    """Answer a documentation request with an article (prefilled from the request)."""
    permset = request.permset
    ticket = visible_tickets(permset).filter(number=number).first()
    if ticket is None:
        raise Http404("No such request")
    if not services.may_write(permset):
        raise PermissionDenied(_("You may not write knowledge-base articles."))
    if ticket.category != Category.DOCUMENTATION:
        messages.error(request, _("Only a documentation request can become an article."))
        return redirect("console:ticket", number=ticket.number)
    products = _products(permset)
    if request.method == "POST":
        form = NewArticleForm(request.POST, products=products)
        article = _create(request, form, ticket=ticket)
        if article is not None:
            messages.success(request, _("Article saved and noted on the request."))
            return redirect("kb:detail", article_id=article.pk)
    else:
        reply = services.latest_public_reply(ticket)
        product = services.product_of(ticket)
        form = NewArticleForm(
            products=products,
            initial={
                "language": ticket.reporter.language or request.LANGUAGE_CODE,
                "title": ticket.subject,
                "body": reply.body if reply else ticket.description,
                "product": product.pk if product else None,
                "kind": Article.Kind.HOWTO,
                "visibility": Article.Visibility.PUBLISHED,
            },
        )
    return render(
        request,
        "kb/new.html",
        {"form": form, "ticket": ticket, "nav": "kb"},
        status=400 if form.is_bound else 200,
    )


def _text_forms(article: Article, posted: tuple[str, TextForm] | None) -> list[dict]:
    texts = {t.language: t for t in article.translations.all()}
    rows = []
    for code, name in settings.LANGUAGES:
        text = texts.get(code)
        if posted and posted[0] == code:
            form = posted[1]
        else:
            initial = {"title": text.title, "body": text.body} if text else {}
            form = TextForm(prefix=f"text-{code}", initial=initial)
        rows.append(
            {
                "code": code,
                "name": name,
                "text": text,
                "html": render_body(text.body) if text else "",
                "form": form,
            }
        )
    return rows


@staff_required
def article_detail(request: HttpRequest, article_id: int) -> HttpResponse:
    """One article: its texts in every language (each edited here), who changed it, how
    often it solved a reader's problem, and the request it answered."""
    permset = request.permset
    article = _article_for(request, article_id)
    may_edit = services.may_write(permset, services.CHANGE_PERMISSION)
    posted = None
    status = 200
    if request.method == "POST":
        if not may_edit:
            raise PermissionDenied(_("You may not change knowledge-base articles."))
        action = request.POST.get("action")
        language = request.POST.get("language", "")
        if language not in services.LANGUAGES:
            raise Http404("No such language")
        try:
            if action == "text":
                form = TextForm(request.POST, prefix=f"text-{language}")
                posted = (language, form)
                if form.is_valid():
                    services.save_text(
                        article=article, actor=request.user, language=language, **form.cleaned_data
                    )
                    messages.success(request, _("Text saved."))
                    return redirect("kb:detail", article_id=article.pk)
            elif action == "delete_text":
                services.delete_text(article=article, actor=request.user, language=language)
                messages.success(request, _("Text removed."))
                return redirect("kb:detail", article_id=article.pk)
            else:
                raise Http404("No such action")
        except ValidationError as exc:
            if posted is None:
                messages.error(request, " ".join(exc.messages))
            else:
                add_service_errors(posted[1], exc)
        status = 400
    article = with_texts(staff_articles(permset)).get(pk=article.pk)
    source = None
    if article.source_ticket_id:
        source = visible_tickets(permset).filter(pk=article.source_ticket_id).first()
    return render(
        request,
        "kb/detail.html",
        {
            "article": article,
            "current": article.text_in(request.LANGUAGE_CODE),
            "texts": _text_forms(article, posted),
            "events": article.events.select_related("actor")[:EVENTS_SHOWN],
            "source": source,
            "may_edit": may_edit,
            "nav": "kb",
        },
        status=status,
    )


@staff_required
def article_edit(request: HttpRequest, article_id: int) -> HttpResponse:
    permset = request.permset
    article = _article_for(request, article_id)
    if not services.may_write(permset, services.CHANGE_PERMISSION):
        raise PermissionDenied(_("You may not change knowledge-base articles."))
    products = _products(permset)
    if request.method == "POST":
        form = ArticleForm(request.POST, products=products)
        if form.is_valid():
            try:
                services.update_article(article=article, actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Article saved."))
                return redirect("kb:detail", article_id=article.pk)
    else:
        form = ArticleForm(
            products=products,
            initial={
                "product": article.product_id,
                "kind": article.kind,
                "visibility": article.visibility,
                "version_from": article.version_from,
                "version_to": article.version_to,
                "video_url": article.video_url,
            },
        )
    return render(
        request,
        "kb/edit.html",
        {
            "form": form,
            "article": article,
            "current": with_texts(Article.objects.filter(pk=article.pk))
            .get()
            .text_in(request.LANGUAGE_CODE),
            "nav": "kb",
        },
        status=400 if form.is_bound else 200,
    )
