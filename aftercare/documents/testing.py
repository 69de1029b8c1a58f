"""``pdf_text(bytes)``: the words of a PDF, via poppler's ``pdftotext`` (for tests)."""

from __future__ import annotations

import shutil
import subprocess

import pytest


def pdf_text(pdf: bytes) -> str:
    exe = shutil.which("pdftotext")
    if exe is None:
        pytest.skip("pdftotext is missing: apt-get install poppler-utils (.ci/run installs it)")
    result = subprocess.run(  # noqa: S603 - a fixed program, the PDF on stdin
        [exe, "-enc", "UTF-8", "-", "-"],
        input=pdf,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return result.stdout.decode("utf-8")
