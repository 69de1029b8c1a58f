"""The offer and the final statement as PDFs, in each of the five UI languages."""

from __future__ import annotations

import pytest

from aftercare.documents.testing import pdf_text
from aftercare.saas.tests import factories as f

pytestmark = pytest.mark.django_db

# Words from the project's catalogues that each PDF must show in the customer's language
# (labels start with a capital letter, whatever case the catalogue has).
WORDS = {
    "en": ["Reference", "Product", "Total", "Country"],
    "ro": ["Referință", "Produs", "Țară"],
    "fr": ["Référence", "Produit", "Pays"],
    "uk": ["Ідентифікатор", "Продукт", "Усього", "Країна"],
    "ru": ["Идентификатор", "Продукт", "Всего", "Страна"],
}
# The customer's own data: Romanian diacritics and Cyrillic in every language.
DATA = ["ș", "ț", "ă", "î", "â", "Migrare bază de date și configurare", "Навчання користувачів"]


def _read(field) -> bytes:
    with field.open("rb") as fh:
        return fh.read()


def _words(pdf: bytes) -> str:
    """The PDF's text with line breaks folded, as a table cell may wrap a phrase."""
    return " ".join(pdf_text(pdf).split())


@pytest.mark.parametrize("language", sorted(WORDS))
def test_the_offer_pdf_is_in_the_leads_language(language, org, consultant):
    lead = f.lead(organisation=org, language=language, contact_name="Олена Дністрова")
    offer = f.sent(lead, consultant)
    assert offer.language == language
    text = _words(_read(offer.pdf))
    for word in [
        *WORDS[language],
        *DATA,
        "Олена Дністрова",
        offer.number,
        "3,254.59" if language == "en" else "3",
    ]:
        assert word in text, (language, word)
    other = {w for lang, words in WORDS.items() if lang != language for w in words[:1]}
    assert not any(w in text for w in other - set(WORDS[language])), language


@pytest.mark.parametrize("language", sorted(WORDS))
def test_the_final_statement_pdf_is_in_the_organisations_language(
    language, org, consultant, coordinator
):
    org.language = language
    org.save()
    lead = f.lead(organisation=org, language="")
    statement = f.invoiced(lead, consultant, coordinator)
    text = _words(_read(statement.pdf))
    for word in [*WORDS[language], *DATA, "Extra interface: bank export", "Maria"]:
        assert word in text, (language, word)
