"""One folding of text for the index and for queries, the same on every database.

Case and accents are removed in Python, not by the database, so SQLite (whose ``LIKE``
and ``lower()`` know only ASCII) and PostgreSQL (whose results depend on the database's
locale) find exactly the same requests: "состояние" finds "Состояние", "Ghita" finds
"Ghiță" (comma below) and "Ghiţă" (cedilla), "echeance" finds "Échéance".

Text is cut into words here as well, and the database only ever sees words of letters
and digits separated by single spaces, so both engines' tokenizers agree with this one.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator

# A word: letters and digits (not "_"); combining marks stay inside the word they follow.
_WORD = re.compile(r"(?:[^\W_]|[\u0300-\u036f\u0483-\u0489])+")
MAX_QUERY_WORDS = 8


def fold(text: str) -> str:
    """Lower-case, accent-free text: NFKD, drop combining marks, casefold.

    NFKD splits "ț" into "t" + comma below and "ё" into "е" + diaeresis, so Romanian's
    comma and cedilla spellings and Russian's ё/е meet; casefold also maps "ß" to "ss".
    """
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.casefold()


def words(text: str) -> list[str]:
    """The folded words of ``text``, in order."""
    return _WORD.findall(fold(text))


def index_text(text: str) -> str:
    """What the index stores for ``text``: its folded words separated by spaces."""
    return " ".join(words(text))


def query_words(text: str) -> list[str]:
    """The words of a query, without repeats, at most ``MAX_QUERY_WORDS``."""
    seen: list[str] = []
    for word in words(text):
        if word not in seen:
            seen.append(word)
    return seen[:MAX_QUERY_WORDS]


@functools.lru_cache(maxsize=50_000)
def _fold_word(word: str) -> tuple[str, ...]:
    return tuple(words(word))


def original_words(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, folded) for each word of the original ``text``, for highlighting.

    A generator, so a snippet stops reading a long mail thread at its first match.
    """
    for match in _WORD.finditer(text):
        for part in _fold_word(match.group()):
            yield match.start(), match.end(), part
