"""``python -m aftercare.lib.fill_english``: the English catalog translates to itself.

Run by ``make messages`` after ``makemessages``: every English entry gets its msgid as
msgstr (plural forms too), and gettext's fuzzy guesses are dropped, so the English
catalog is always complete and the completeness test can hold every language to it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polib

DEFAULT = Path(__file__).resolve().parent.parent / "locale/en/LC_MESSAGES/django.po"


def fill(path: Path = DEFAULT) -> int:
    po = polib.pofile(str(path))
    for entry in po:
        if entry.msgid_plural:
            entry.msgstr_plural = {0: entry.msgid, 1: entry.msgid_plural}
        else:
            entry.msgstr = entry.msgid
        if "fuzzy" in entry.flags:
            entry.flags.remove("fuzzy")
        entry.previous_msgid = entry.previous_msgid_plural = entry.previous_msgctxt = None
    po.save()
    return len(po)


if __name__ == "__main__":
    count = fill(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT)
    sys.stdout.write(f"{count} English entries filled\n")
