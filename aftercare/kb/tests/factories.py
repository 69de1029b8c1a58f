"""Knowledge-base test data: who runs which product, and articles about them."""

from __future__ import annotations

from aftercare.kb.models import Article, ArticleText
from aftercare.lifecycle.models import Product
from aftercare.tenancy.models import Organisation, System

ERP = "Aftercare ERP"
WMS = "Beta WMS"


def runs(organisation: Organisation, product_name: str, version: str = "11.2") -> Product:
    """The organisation runs the product (a System naming it); the product exists."""
    product, _created = Product.objects.get_or_create(name=product_name)
    System.objects.create(
        organisation=organisation,
        name=f"{organisation.code} {product_name}",
        product=product_name,
        version=version,
    )
    return product


def article(
    product: Product,
    *,
    title: str = "Resetting the invoice queue",
    body: str = "Open the queue and press Reset.",
    visibility: str = Article.Visibility.PUBLISHED,
    language: str = "en",
    **kwargs,
) -> Article:
    """An article written straight into the database (services are tested separately)."""
    row = Article.objects.create(product=product, visibility=visibility, **kwargs)
    ArticleText.objects.create(article=row, language=language, title=title, body=body)
    return row
