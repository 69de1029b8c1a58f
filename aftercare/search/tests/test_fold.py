"""The one folding both engines rely on: case, accents and Romanian's two comma forms."""

from __future__ import annotations

import pytest

from aftercare.search.fold import fold, index_text, original_words, query_words


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("состояние", "Состояние"),
        ("СОСТОЯНИЕ", "состояние"),
        ("Ghita", "Ghiță"),  # comma below
        ("ghita", "GHIŢĂ"),  # cedilla
        ("echeance", "Échéance"),
        ("ecart", "écart"),
        ("їжак", "ЇЖАК"),
        ("ещё", "еще"),
        ("strasse", "Straße"),
    ],
)
def test_it_folds_query_and_text_alike(typed, stored):
    assert index_text(typed) == index_text(stored)


def test_words_are_letters_and_digits_only():
    assert index_text("AC-2026-000123: <script>alert(1)</script> foo_bar") == (
        "ac 2026 000123 script alert 1 script foo bar"
    )
    assert fold("Ĳ") == "ij"


def test_query_words_drop_repeats_and_cap_the_count():
    assert query_words("Invoice invoice INVOICE") == ["invoice"]
    assert len(query_words(" ".join(f"w{i}" for i in range(20)))) == 8


def test_original_words_keep_the_offsets_of_decomposed_text():
    text = "Dl. Ghit\u0326a\u0306 a scris"  # already decomposed (NFD) input
    spans = list(original_words(text))
    start, end, word = spans[1]
    assert word == "ghita" and text[start:end] == "Ghit\u0326a\u0306"
