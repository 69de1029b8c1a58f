"""Demo data: knowledge-base articles for "Aftercare ERP" (one published in all five
languages, one internal). Called once from ``demo_load`` after the lifecycle demo created
the products, through the services so the demo obeys the rules."""

from __future__ import annotations

from aftercare.accounts.roles import Role
from aftercare.kb import services
from aftercare.kb.models import Article
from aftercare.lifecycle.models import Product

PUBLISHED = {
    "en": (
        "Exchange-rate import stops at 02:00",
        "# Symptom\nThe nightly exchange-rate import stops with a timeout.\n\n"
        "# Workaround\n- Open **Finance › Exchange rates**\n- Run the import by hand\n\n"
        "Fixed in 11.3 SP1; see https://docs.example/erp/fx-import",
    ),
    "ro": (
        "Importul cursurilor valutare se oprește la 02:00",
        "# Simptom\nImportul nocturn al cursurilor se oprește cu timeout.\n\n"
        "# Soluție temporară\n- Deschideți **Finanțe › Cursuri valutare**\n"
        "- Rulați importul manual",
    ),
    "fr": (
        "L’import des taux de change s’arrête à 02:00",
        "# Symptôme\nL’import nocturne des taux s’arrête sur un délai dépassé.\n\n"
        "# Contournement\n- Ouvrez **Finances › Taux de change**\n- Lancez l’import à la main",
    ),
    "uk": (
        "Імпорт курсів валют зупиняється о 02:00",
        "# Симптом\nНічний імпорт курсів зупиняється через тайм-аут.\n\n"
        "# Обхідний шлях\n- Відкрийте **Фінанси › Курси валют**\n- Запустіть імпорт вручну",
    ),
    "ru": (
        "Импорт курсов валют останавливается в 02:00",
        "# Симптом\nНочной импорт курсов останавливается по тайм-ауту.\n\n"
        "# Обходной путь\n- Откройте **Финансы › Курсы валют**\n- Запустите импорт вручную",
    ),
}


def load(staff) -> None:
    product = Product.objects.filter(name="Aftercare ERP").first()
    if product is None or Article.objects.filter(product=product).exists():
        return
    consultant, manager = staff[Role.CONSULTANT], staff[Role.MANAGER]
    title, body = PUBLISHED["en"]
    article = services.create_article(
        actor=consultant,
        product=product,
        language="en",
        title=title,
        body=body,
        kind=Article.Kind.KNOWN_ISSUE,
        visibility=Article.Visibility.PUBLISHED,
        version_from="11.2",
        version_to="11.3",
    )
    for language, (title, body) in PUBLISHED.items():
        if language != "en":
            services.save_text(
                article=article, actor=consultant, language=language, title=title, body=body
            )
    services.create_article(
        actor=manager,
        product=product,
        language="en",
        title="Restarting the ERP application server safely",
        body="Internal runbook.\n\n1. Announce the restart to the customer\n"
        "2. Drain the job queue\n3. Restart with `systemctl restart erp-app`",
        kind=Article.Kind.MANUAL,
        visibility=Article.Visibility.INTERNAL,
    )
    services.create_article(
        actor=manager,
        product=product,
        language="en",
        title="Video: closing the month in Aftercare ERP",
        body="A ten-minute walk through the month-end closing.",
        kind=Article.Kind.VIDEO,
        visibility=Article.Visibility.PUBLISHED,
        version_from="11.3",
        video_url="https://videos.example/erp/month-end",
    )
