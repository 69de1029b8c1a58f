"""parse() against the third-party corpus (CPython's test mail, Zammad's test mail).

Every message must parse or be rejected with MailRejected, never crash. Where Zammad
ships an expectation (.yml), our result must agree on the subject, the sender, the body
text and the attachment names, compared fairly: Zammad's bodies are its own sanitised
HTML, so both sides are rendered to text and whitespace is normalised.

Expectations we consciously do not meet are listed below with the reason, and for each
of them a weaker but still meaningful check is made instead.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest

from aftercare.mail.htmltext import html_to_text
from aftercare.mail.parsing import REJECTION_CODES, MailRejected, ParsedMail, parse

from .corpus import (
    SKIP_REASON,
    corpus_available,
    corpus_id,
    expectation_path,
    load_expectation,
    mbox_files,
    message_files,
)

pytestmark = pytest.mark.skipif(not corpus_available(), reason=SKIP_REASON)

FILES = message_files()
EXPECTED = [path for path in FILES if expectation_path(path)]

# Zammad's placeholder when it found no body at all. We sometimes do better (mail054's
# folding is repaired, mail105's part-less multipart is shown as text), and sometimes
# find nothing either; there is nothing to compare.
NO_BODY = "no visible content"

# Zammad does not decode UTF-7 (mail018 is labelled unicode-1-1-utf-7); we do. The
# expectation is decoded before it is compared.
UTF7_EXPECTATIONS = {"mail018.box"}

# Body expectations not met, and why.
BODY_DEVIATIONS = {
    # The HTML part holds nothing but its <title> ("Ihre Rechnung als PDF-Dokument");
    # Zammad renders the title into the body, we drop <head> content as invisible. The
    # text/plain alternative (our ParsedMail.text) carries the actual invoice text.
    "mail026.box": "html <title> is not body text",
}

# Sender expectations not met, and why; the lambda is the check made instead.
SENDER_DEVIATIONS = {
    # From: "Millions Lottery Spain transfer"@example.com>  - Zammad keeps the stray ">"
    # in the address; the address parser drops it.
    "mail076.box": lambda expected, ours: expected.lower().rstrip(">") == ours,
    # From: =?utf-8?Q?attacker?Q?agent?=@victim.example  - Zammad decodes the
    # encoded-word inside the addr-spec. RFC 2047 forbids encoded-words there, and
    # decoding them is how senders get spoofed (=?utf-8?q?ceo=40customer.example?=@x):
    # we keep the addr-spec as written. The domain must stay the same either way.
    "mail117.box": lambda expected, ours: (
        ours.rsplit("@", 1)[1] == expected.lower().rsplit("@", 1)[1]
        and ours.startswith("=?utf-8?q?")
    ),
}

# Attachment names Zammad makes up when the mail names none (from the Content-Description,
# the content type, or by numbering duplicates). We generate our own names
# ("image-1.jpg", "video-2.mov", "delivery-status.txt"...): for these we only check that
# an attachment of the same content type exists.
ZAMMAD_GENERATED_NAMES = {
    ("mail062.box", "document.html"),
    ("mail062.box", "document1.html"),
    ("mail062.box", "video.mov"),
    ("mail062.box", "video1.mov"),
    ("mail080.box", "image.jpg"),
    ("mail092.box", "Delivery report.txt"),
    ("mail092.box", "Undelivered Message.eml"),
    ("mail100.box", "32497.1617621278.2"),
    ("mail100.box", "image.jpg"),
    # Two parts are both named "Screen Shot 2018-12-17 at 09.00.38.png"; Zammad renames
    # the second, we keep both names as sent (the ingest layer stores them by id).
    ("mail102.box", "Screen Shot 2018-12-17 at 091.00.38.png"),
}

_HTML_MARKUP = re.compile(r"</?(?:div|p|br|span|b|a|img|table)\b", re.IGNORECASE)


def _norm(value: object) -> str:
    return " ".join(str(value or "").split())


def _parse_or_none(path: Path) -> ParsedMail | None:
    try:
        return parse(path.read_bytes())
    except MailRejected:
        return None


@pytest.mark.parametrize("path", FILES, ids=corpus_id)
def test_parse_returns_or_rejects(path: Path):
    try:
        parsed = parse(path.read_bytes())
    except MailRejected as rejected:
        assert rejected.code in REJECTION_CODES
        return
    assert isinstance(parsed, ParsedMail)
    assert parsed.raw_size == path.stat().st_size
    assert isinstance(parsed.text, str) and isinstance(parsed.html, str)
    assert parsed.reply_text or not parsed.text.strip()
    for attachment in parsed.attachments:
        assert attachment.filename
        assert "/" not in attachment.filename and "\\" not in attachment.filename
        assert attachment.content_type == attachment.content_type.lower()
    assert "<script" not in parsed.html.lower()


@pytest.mark.parametrize("path", mbox_files(), ids=corpus_id)
def test_corpus_mbox_splits(path: Path):
    from aftercare.mail.parsing import iter_mbox

    messages = list(iter_mbox(path.read_bytes()))
    assert messages
    for raw in messages:
        parse(raw)


@pytest.mark.parametrize("path", EXPECTED, ids=corpus_id)
def test_zammad_subject_and_sender(path: Path):
    expected = load_expectation(path)
    parsed = _parse_or_none(path)
    assert parsed is not None, "a message with an expectation must not be rejected"
    if "subject" in expected:
        subject = expected["subject"] or ""
        if path.name in UTF7_EXPECTATIONS:
            subject = subject.encode("ascii").decode("utf-7")
        assert _norm(parsed.subject) == _norm(subject)
    if expected.get("from_email"):
        wanted = str(expected["from_email"])
        deviation = SENDER_DEVIATIONS.get(path.name)
        if deviation is not None:
            assert deviation(wanted, parsed.from_address), (wanted, parsed.from_address)
        else:
            assert parsed.from_address == wanted.lower()


def _expected_body(path: Path, expected: dict) -> tuple[str, bool] | None:
    body = expected.get("body")
    if body is None or _norm(body) == NO_BODY:
        return None
    body = str(body)
    if path.name in UTF7_EXPECTATIONS:
        body = body.encode("ascii").decode("utf-7")
    content_type = expected.get("content_type")
    # Some files carry HTML without saying so (no content_type key).
    is_html = content_type == "text/html" or (not content_type and bool(_HTML_MARKUP.search(body)))
    return _norm(html_to_text(body) if is_html else body), is_html


def _bodies_agree(expected: str, ours: str) -> bool:
    """The whole expected text is in ours, or its first 200 characters are (Zammad
    shows less, e.g. of bounces), or the two agree closely (Zammad keeps the <title>)."""
    if expected in ours or expected[:200] in ours:
        return True
    matcher = difflib.SequenceMatcher(None, expected[:3000], ours[:3000], autojunk=False)
    return matcher.ratio() >= 0.9


def _body_cases() -> list[Path]:
    return [path for path in EXPECTED if _expected_body(path, load_expectation(path))]


@pytest.mark.parametrize("path", _body_cases(), ids=corpus_id)
def test_zammad_body(path: Path):
    wanted = _expected_body(path, load_expectation(path))
    assert wanted is not None
    parsed = _parse_or_none(path)
    assert parsed is not None
    text, is_html = wanted
    ours = _norm(html_to_text(parsed.html) if is_html and parsed.html else parsed.text)
    if path.name in BODY_DEVIATIONS:
        # Documented deviation: at least the message must still have readable text.
        assert _norm(parsed.text)
        return
    assert _bodies_agree(text, ours), f"expected {text[:300]!r}\n     ours {ours[:300]!r}"


def _name_matches(expected: str, ours: str) -> bool:
    """Equal, where U+FFFD in Zammad's name (a byte it could not decode) matches any
    single character: we decode those names (mail073: "W\ufffdlbung" is "Wölbung")."""
    if expected == ours:
        return True
    if "\ufffd" not in expected or len(expected) != len(ours):
        return False
    return all(a == b or a == "\ufffd" for a, b in zip(expected, ours, strict=True))


def _wanted_attachments(path: Path) -> list[dict]:
    return [
        attachment
        for attachment in load_expectation(path).get("attachments") or []
        if isinstance(attachment, dict)
        # Zammad stores the original HTML body as "message.html"; ours is ParsedMail.html.
        and not (attachment.get("preferences") or {}).get("content-alternative")
    ]


@pytest.mark.parametrize(
    "path", [path for path in EXPECTED if _wanted_attachments(path)], ids=corpus_id
)
def test_zammad_attachments(path: Path):
    wanted = _wanted_attachments(path)
    parsed = _parse_or_none(path)
    assert parsed is not None
    names = [attachment.filename for attachment in parsed.attachments]
    types = [attachment.content_type for attachment in parsed.attachments]
    assert len(parsed.attachments) >= len(wanted)
    for attachment in wanted:
        filename = str(attachment.get("filename"))
        if (path.name, filename) in ZAMMAD_GENERATED_NAMES:
            mime = str((attachment.get("preferences") or {}).get("Mime-Type", "")).lower()
            assert mime in types, (filename, mime, types)
            continue
        assert any(_name_matches(filename, name) for name in names), (filename, names)
