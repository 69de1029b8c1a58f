"""Every environment variable the code reads is documented in docs/configuration.md.

The scan reads the source (``aftercare/**``, ``conftest.py``, ``tests/``), not the settings: a variable read by a command, a task or a
test helper counts too. A new variable fails this test until it has a line in the doc.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "configuration.md"

_NAME = r"""["']([A-Z][A-Z0-9_]*)["']"""
READS = [
    re.compile(r"\benv_(?:str|bool|int|list|secret)\(\s*" + _NAME),
    re.compile(r"\bos\.environ\.get\(\s*" + _NAME),
    re.compile(r"\bos\.environ\[\s*" + _NAME + r"\s*\]"),
    re.compile(r"\bos\.getenv\(\s*" + _NAME),
    re.compile(_NAME + r"\s+(?:not\s+)?in\s+os\.environ\b"),
]
# Read by helpers with a computed name; documented through their base variable.
IGNORED = {"DJANGO_SETTINGS_MODULE"}


def variables_read() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    paths = [
        *(ROOT / "aftercare").rglob("*.py"),
        ROOT / "conftest.py",
        *(ROOT / "tests").glob("*.py"),
    ]
    for path in sorted(paths):
        text = path.read_text(encoding="utf-8")
        for pattern in READS:
            for name in pattern.findall(text):
                found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return {name: files for name, files in found.items() if name not in IGNORED}


def documented() -> set[str]:
    return set(re.findall(r"`([A-Z][A-Z0-9_]*)`", DOC.read_text(encoding="utf-8")))


def test_the_scan_finds_the_variables_we_know_of():
    names = variables_read()
    # If these vanish the scan is broken, not the project.
    assert {"DATABASE_URL", "SECRET_KEY", "REDIS_URL", "AFTERCARE_STORAGE"} <= set(names)
    assert "AFTERCARE_FAULTS" in names


def test_every_environment_variable_is_documented():
    names = variables_read()
    missing = sorted(set(names) - documented())
    assert not missing, (
        "These environment variables are read by the code but not documented in "
        "docs/configuration.md:\n"
        + "\n".join(f"  {name}  (read in {', '.join(sorted(names[name]))})" for name in missing)
    )


def test_every_documented_variable_is_still_read():
    """A variable removed from the code leaves the doc too (names ending _FILE excepted)."""
    names = set(variables_read())
    stale = sorted(
        n
        for n in documented() - names
        if n.startswith(("AFTERCARE_", "DB_", "EMAIL_", "DATABASE_", "REDIS_"))
        and not n.endswith("_FILE")
        and n not in DOC_ONLY
    )
    assert not stale, f"docs/configuration.md lists variables nothing reads: {stale}"


# Named in the doc for another reason (examples, the test-only overrides of other tools).
DOC_ONLY: set[str] = set()
