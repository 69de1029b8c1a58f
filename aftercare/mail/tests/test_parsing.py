"""Unit tests for aftercare.mail.parsing: hand-written messages, built as bytes here."""

from __future__ import annotations

import base64
import contextlib
import random
import textwrap
from datetime import UTC, datetime, timedelta, timezone

import pytest

from aftercare.mail.parsing import (
    Limits,
    MailRejected,
    ParsedMail,
    content_hash,
    decode_header_value,
    extract_ticket_numbers,
    iter_mbox,
    parse,
)


def message(head: str, body: bytes | str = b"", *, crlf: bool = True) -> bytes:
    """Header lines (str, ASCII unless a test wants 8-bit) and a body (bytes or str)."""
    lines = textwrap.dedent(head).strip("\n").split("\n")
    newline = "\r\n" if crlf else "\n"
    head_bytes = newline.join(line.rstrip() for line in lines)
    if isinstance(body, str):
        body = body.replace("\n", newline).encode("utf-8")
    return head_bytes.encode("utf-8") + newline.encode() * 2 + body


def b64(data: bytes) -> bytes:
    return base64.encodebytes(data)


def encoded_word(text: str, charset: str, encoding: str = "B") -> str:
    data = text.encode(charset)
    if encoding == "B":
        return f"=?{charset}?B?{base64.b64encode(data).decode()}?="
    safe = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!*+-/"
    q = "".join(
        chr(byte) if byte in safe else "_" if byte == 32 else f"={byte:02X}" for byte in data
    )
    return f"=?{charset}?Q?{q}?="


SIMPLE = message(
    """
    From: "Ivan Petrov" <Ivan.Petrov@Example.COM>
    Reply-To: Support Desk <Desk@Example.com>
    To: support@aftercare.example, "Doe, Jane" <jane@example.org>
    Cc: boss@example.org
    Subject: Printer   is
     broken again
    Date: Mon, 2 Mar 2026 10:15:00 +0100
    Message-ID: <abc.123@mail.example.com>
    In-Reply-To: <parent@example.com>
    References: <root@example.com> <parent@example.com>
    MIME-Version: 1.0
    Content-Type: text/plain; charset=utf-8
    Content-Transfer-Encoding: 8bit
    """,
    "Hello,\n\nthe printer is broken.\n\n-- \nIvan\n",
)


# --------------------------------------------------------------------------- basics


def test_simple_message_fields():
    parsed = parse(SIMPLE)
    assert isinstance(parsed, ParsedMail)
    assert parsed.message_id == "abc.123@mail.example.com"
    assert parsed.in_reply_to == ["parent@example.com"]
    assert parsed.references == ["root@example.com", "parent@example.com"]
    assert parsed.subject == "Printer is broken again"
    assert parsed.from_address == "ivan.petrov@example.com"
    assert parsed.from_name == "Ivan Petrov"
    assert parsed.reply_to == "desk@example.com"
    assert parsed.to == ["support@aftercare.example", "jane@example.org"]
    assert parsed.cc == ["boss@example.org"]
    assert parsed.date == datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
    assert parsed.date.utcoffset() == timedelta(hours=1)
    assert parsed.text == "Hello,\n\nthe printer is broken.\n\n-- \nIvan"
    assert parsed.reply_text == parsed.text  # the signature is kept
    assert parsed.quoted_text == ""
    assert parsed.html == ""
    assert parsed.attachments == []
    assert not parsed.auto_submitted and parsed.auto_reason == ""
    assert not parsed.is_bounce
    assert parsed.aftercare_loop == ""
    assert parsed.raw_size == len(SIMPLE)
    assert parsed.problems == []
    assert parsed.headers["Subject"] == "Printer is broken again"
    assert parsed.headers["From"] == '"Ivan Petrov" <Ivan.Petrov@Example.COM>'
    assert parsed.headers["Message-ID"] == "<abc.123@mail.example.com>"
    assert set(parsed.headers) <= {"From", "To", "Cc", "Reply-To", "Date", "Subject", "Message-ID"}


def test_missing_message_id_date_and_from():
    parsed = parse(message("Subject: hi\nTo: a@example.com", "body"))
    assert parsed.message_id == ""
    assert parsed.in_reply_to == [] and parsed.references == []
    assert parsed.date is None
    assert parsed.from_address == "" and parsed.from_name == ""
    assert "no From address" in parsed.problems
    assert parsed.text == "body"


def test_date_without_zone_is_utc_and_garbage_is_none():
    naive = parse(message("From: a@b.example\nDate: 2 Mar 2026 10:15:00 -0000", "x"))
    assert naive.date == datetime(2026, 3, 2, 10, 15, tzinfo=UTC)
    assert naive.date.tzinfo is not None
    garbage = parse(message("From: a@b.example\nDate: the day after tomorrow", "x"))
    assert garbage.date is None
    absurd = parse(message("From: a@b.example\nDate: Mon, 2 Mar 99999 10:15:00 +9999", "x"))
    assert absurd.date is None or absurd.date.tzinfo is not None


def test_date_run_on_header_is_still_read():
    raw = message("From: a@b.example\nDate: Mon, 2 Mar 2026 10:15:00 +0200Received: from x", "x")
    parsed = parse(raw)
    assert parsed.date == datetime(2026, 3, 2, 10, 15, tzinfo=timezone(timedelta(hours=2)))


def test_message_ids_without_brackets_and_duplicates():
    raw = message(
        "From: a@b.example\nMessage-ID: naked@id.example\nReferences: <a@x> <a@x>\n <b@x>", "x"
    )
    parsed = parse(raw)
    assert parsed.message_id == "naked@id.example"
    assert parsed.references == ["a@x", "b@x"]


def test_from_falls_back_to_reply_to_and_prefers_real_addresses():
    parsed = parse(message('From: "Sender" <>\nReply-To: <Real@Example.com>', "x"))
    assert parsed.from_address == "real@example.com"
    assert any("Reply-To" in problem for problem in parsed.problems)
    twice = parse(message("From: [??????]\nFrom: Name <real@example.com>", "x"))
    assert twice.from_address == "real@example.com"
    no_domain = parse(message("From: MAILER-DAEMON (Mail Delivery System)", "x"))
    assert no_domain.from_address == "mailer-daemon"
    assert no_domain.from_name == "Mail Delivery System"


# --------------------------------------------------------------------------- charsets


RUSSIAN = "Здравствуйте! Не работает принтер, ошибка E-42."
UKRAINIAN = "Добрий день! Не працює ґанок і їдальня, є питання."
POLISH = "Zażółć gęślą jaźń - drukarka nie działa."
CZECH = "Příliš žluťoučký kůň úpěl ďábelské ódy."
ROMANIAN = "Întrebare despre factură: ș ț ă î â"


@pytest.mark.parametrize(
    ("charset", "text"),
    [
        ("windows-1251", RUSSIAN),
        ("koi8-r", RUSSIAN),
        ("koi8-u", UKRAINIAN),
        ("iso-8859-2", POLISH),
        ("iso-8859-2", CZECH),
        ("windows-1250", CZECH),
        ("iso-8859-16", ROMANIAN),
        ("iso-8859-1", "Grüße aus Köln"),
        ("gb2312", "绩效管理，究竟谁错了"),
        ("shift_jis", "このアドレスへのメルマガを解除してください。"),
    ],
)
def test_body_charsets(charset, text):
    raw = message(
        f"From: a@b.example\nContent-Type: text/plain; charset={charset}\n"
        "Content-Transfer-Encoding: 8bit",
        text.encode(charset),
    )
    parsed = parse(raw)
    assert parsed.text == text
    assert parsed.problems == []


@pytest.mark.parametrize(
    ("charset", "text", "encoding"),
    [
        ("windows-1251", RUSSIAN, "B"),
        ("koi8-r", RUSSIAN, "Q"),
        ("koi8-u", UKRAINIAN, "B"),
        ("utf-8", ROMANIAN, "Q"),
        ("iso-8859-2", POLISH, "Q"),
        ("iso-8859-2", CZECH, "B"),
    ],
)
def test_encoded_word_subjects(charset, text, encoding):
    subject = encoded_word(text, charset, encoding)
    parsed = parse(message(f"From: a@b.example\nSubject: Re: {subject}", "x"))
    assert parsed.subject == f"Re: {text}"


def test_encoded_words_split_inside_a_character_and_folded():
    data = "Привет, мир".encode()
    first, second = data[:3], data[3:]  # the cut falls inside "р"
    subject = (
        f"=?UTF-8?B?{base64.b64encode(first).decode()}?=\r\n"
        f" =?utf-8?B?{base64.b64encode(second).decode()}?="
    )
    parsed = parse(message(f"From: a@b.example\nSubject: {subject}", "x"))
    assert parsed.subject == "Привет, мир"


def test_encoded_words_without_spaces_and_mixed_with_plain_text():
    value = "=?utf-8?Q?Gr=C3=BC=C3=9Fe?=aus=?iso-8859-1?Q?_K=F6ln?= [AC-2026-000123]"
    assert decode_header_value(value) == "Grüßeaus Köln [AC-2026-000123]"
    # blanks between two encoded-words disappear, blanks around plain text stay
    assert decode_header_value("=?utf-8?Q?a?= =?utf-8?Q?b?= c") == "ab c"
    # Q words with literal blanks and broken escapes are tolerated
    assert decode_header_value("=?utf-8?Q?hello world=ZZ?=") == "hello world=ZZ"
    # broken base64 (bad padding, junk) does not raise
    assert isinstance(decode_header_value("=?utf-8?B?0J/RgNC4!!!?="), str)
    assert decode_header_value("=?unknown-charset?Q?caf=E9?=") == "café"
    assert decode_header_value(None) == ""


def test_raw_8bit_headers():
    raw = (
        "From: Jürgen Müller <j@example.de>\r\nSubject: Grüße aus München\r\n".encode()
        + "To: Сергей <s@example.ru>\r\nCc: Ion <ion@example.ro>\r\n".encode("cp1251")
        + b"Content-Type: text/plain; charset=utf-8\r\n\r\nHallo"
    )
    parsed = parse(raw)
    assert parsed.subject == "Grüße aus München"
    assert parsed.from_name == "Jürgen Müller"
    assert parsed.to == ["s@example.ru"]
    latin = parse(b"From: a@b.example\r\nSubject: Gr\xfc\xdfe\r\n\r\nx")
    assert latin.subject == "Grüße"
    cyrillic = parse(b"From: a@b.example\r\nSubject: " + RUSSIAN.encode("cp1251") + b"\r\n\r\nx")
    assert cyrillic.subject == RUSSIAN


def test_unknown_charset_falls_back_with_a_problem():
    raw = message(
        "From: a@b.example\nContent-Type: text/plain; charset=x-unknown",
        "Grüße, “quoted”".encode("cp1252"),
    )
    parsed = parse(raw)
    assert parsed.text == "Grüße, “quoted”"
    assert "charset 'x-unknown' replaced by cp1252" in parsed.problems


def test_unknown_8bit_cyrillic_guessed_as_cp1251():
    raw = message(
        "From: a@b.example\nContent-Type: text/plain; charset=unknown-8bit",
        RUSSIAN.encode("cp1251"),
    )
    parsed = parse(raw)
    assert parsed.text == RUSSIAN
    assert "charset 'unknown-8bit' replaced by cp1251" in parsed.problems


def test_wrong_declared_charset_and_undecodable_bytes():
    # declared UTF-8, really windows-1251
    wrong = message(
        "From: a@b.example\nContent-Type: text/plain; charset=utf-8", RUSSIAN.encode("cp1251")
    )
    parsed = parse(wrong)
    assert parsed.text == RUSSIAN
    assert any("replaced by cp1251" in problem for problem in parsed.problems)
    # declared us-ascii, really UTF-8: read as UTF-8 without complaint
    ascii_label = message(
        "From: a@b.example\nContent-Type: text/plain; charset=us-ascii", "Grüße".encode()
    )
    assert parse(ascii_label).text == "Grüße"
    # a charset name Python would treat as a codec, not a charset, is refused
    codec = message(
        "From: a@b.example\nContent-Type: text/plain; charset=unicode_escape", b"\\u0041 caf\xe9"
    )
    assert parse(codec).text == "\\u0041 café"


def test_iso_2022_jp_with_vendor_characters():
    body = b'\x1b$B-!#1ET#38)$N03$H!"\x1b(B'
    raw = message("From: a@b.example\nContent-Type: text/plain; charset=ISO-2022-JP", body)
    assert parse(raw).text == "①１都３県の鯵と、"


def test_broken_base64_and_quoted_printable_are_tolerated():
    broken_b64 = message(
        "From: a@b.example\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: base64",
        base64.b64encode("Привет мир".encode()).rstrip(b"=")[:-1] + b"@@\n",
    )
    parsed = parse(broken_b64)
    assert parsed.text.startswith("Привет")
    broken_qp = message(
        "From: a@b.example\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: quoted-printable",
        b"Gr=C3=BC=C3=9Fe =ZZ soft=\nbreak =C3",
    )
    text = parse(broken_qp).text
    assert text.startswith("Grüße =ZZ softbreak")


# --------------------------------------------------------------------------- addresses


def test_display_names_are_decoded_after_the_address_list_is_split():
    spoof = message(
        'From: "=?utf-8?Q?victim=40customer.example?=" <attacker@evil.example>\n'
        "To: =?utf-8?Q?x=2C_y=40z.example?= <real@example.com>",
        "x",
    )
    parsed = parse(spoof)
    assert parsed.from_address == "attacker@evil.example"
    assert parsed.from_name == "victim@customer.example"
    assert parsed.to == ["real@example.com"]
    # an encoded-word in the addr-spec is never decoded into an address
    local = parse(message("From: =?utf-8?Q?ceo=40customer.example?=@evil.example", "x"))
    assert local.from_address.endswith("@evil.example")
    assert "customer.example" not in local.from_address.split("@")[-1]


def test_encoded_display_name_with_a_comma():
    parsed = parse(message("From: =?iso-8859-1?Q?B=FCrling,=20Andreas?= <smith@example.com>", "x"))
    assert parsed.from_address == "smith@example.com"
    assert parsed.from_name == "Bürling, Andreas"


def test_address_in_a_comment():
    parsed = parse(message("From: a@b.example\nTo: Namedyński (hans@example.com)", "x"))
    assert parsed.to == ["hans@example.com"]


# --------------------------------------------------------------------------- structure

BOUNDARY = "----=_Part_1"


def multipart(subtype: str, parts: list[bytes], boundary: str = BOUNDARY, extra: str = "") -> bytes:
    out = [f'Content-Type: multipart/{subtype}; boundary="{boundary}"{extra}'.encode(), b""]
    out.append(b"preamble")
    for part in parts:
        out.append(f"--{boundary}".encode())
        out.append(part)
    out.append(f"--{boundary}--".encode())
    out.append(b"")
    return b"\r\n".join(out)


def part(headers: str, body: bytes | str) -> bytes:
    if isinstance(body, str):
        body = body.encode()
    lines = [line.rstrip("\r") for line in headers.strip("\n").split("\n")]
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + body


def with_headers(body: bytes, head: str = "From: a@b.example\nSubject: test") -> bytes:
    lines = [line.strip() for line in head.strip().split("\n")]
    return "\r\n".join(lines).encode() + b"\r\nMIME-Version: 1.0\r\n" + body


def test_alternative_prefers_plain_for_text_and_keeps_sanitised_html():
    raw = with_headers(
        multipart(
            "alternative",
            [
                part("Content-Type: text/plain; charset=utf-8", "Plain version"),
                part(
                    "Content-Type: text/html; charset=utf-8",
                    "<p onclick='x()'>HTML <b>version</b></p><script>alert(1)</script>",
                ),
            ],
        )
    )
    parsed = parse(raw)
    assert parsed.text == "Plain version"
    assert parsed.html == "<p>HTML <b>version</b></p>"


def test_html_only_mail_is_sanitised_and_rendered():
    html = (
        "<html><head><title>Invoice</title><style>p{color:red}</style></head><body>"
        "<p>Hello <a href='javascript:alert(1)' onclick='steal()'>click</a></p>"
        "<img src='https://tracker.example/pixel.gif' width=1>"
        "<img src='data:image/png;base64,AAAA'>"
        "<a href='https://example.com/x'>details</a>"
        "<form action='https://evil.example'><input name=p></form>"
        "<iframe src='https://evil.example'></iframe>"
        "<script>document.cookie</script></body></html>"
    )
    raw = message("From: a@b.example\nContent-Type: text/html; charset=utf-8", html)
    parsed = parse(raw)
    lowered = parsed.html.lower()
    for forbidden in ("script", "onclick", "javascript:", "tracker.example", "data:", "<form",
                      "<iframe", "<input", "<style", "invoice"):  # fmt: skip
        assert forbidden not in lowered, forbidden
    assert 'rel="noopener noreferrer nofollow"' in parsed.html
    assert parsed.text == "Hello click\n\ndetails (https://example.com/x)"
    assert parsed.reply_text == parsed.text


def test_related_inline_image_with_cid():
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
    raw = with_headers(
        multipart(
            "related",
            [
                part(
                    "Content-Type: text/html; charset=utf-8",
                    '<p>See <img src="cid:logo@local" alt="logo"></p>',
                ),
                part(
                    "Content-Type: image/png\nContent-Transfer-Encoding: base64\n"
                    "Content-ID: <logo@local>",
                    b64(png),
                ),
            ],
        )
    )
    parsed = parse(raw)
    (image,) = parsed.attachments
    assert image.data == png
    assert image.content_type == "image/png"
    assert image.content_id == "logo@local"
    assert image.inline and image.referenced
    assert image.filename == "image-1.png"
    assert 'src="cid:logo@local"' in parsed.html
    assert parsed.text == "See [logo]"


def test_mixed_attachments_names_and_types():
    pdf = b"%PDF-1.4 fake"
    raw = with_headers(
        multipart(
            "mixed",
            [
                part("Content-Type: text/plain; charset=utf-8", "First part."),
                part(
                    "Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n"
                    'Content-Disposition: attachment; filename="=?utf-8?B?'
                    + base64.b64encode("Рахунок №1.pdf".encode()).decode()
                    + '?="',
                    b64(pdf),
                ),
                part("Content-Type: text/plain; charset=utf-8", "Second part."),
                part(
                    "Content-Type: text/plain; charset=utf-8\n"
                    'Content-Disposition: attachment; filename="log.txt"',
                    "log line",
                ),
                part(
                    "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64",
                    b64(b"\x00\x01"),
                ),  # fmt: skip
                part(
                    "Content-Type: application/ms-tnef; name=winmail.dat\n"
                    "Content-Transfer-Encoding: base64",
                    b64(b"\x78\x9f\x3e\x22tnef"),
                ),
                part(
                    "Content-Type: image/jpeg\nContent-Transfer-Encoding: base64",
                    b64(b"\xff\xd8\xff"),
                ),  # fmt: skip
                part(
                    "Content-Type: text/plain; charset=utf-8\n"
                    'Content-Disposition: attachment; filename="../../etc/passwd"',
                    "x",
                ),
            ],
        )
    )
    parsed = parse(raw)
    assert parsed.text == "First part.\n\nSecond part."
    names = [(a.filename, a.content_type) for a in parsed.attachments]
    assert names == [
        ("Рахунок №1.pdf", "application/pdf"),
        ("log.txt", "text/plain"),
        ("attachment-1.bin", "application/octet-stream"),
        ("winmail.dat", "application/ms-tnef"),
        ("image-1.jpg", "image/jpeg"),
        ("passwd", "text/plain"),
    ]
    assert parsed.attachments[0].data == pdf
    assert parsed.attachments[1].data == b"log line"
    assert not any(a.inline for a in parsed.attachments)


def test_rfc2231_continuation_filename_in_ukrainian():
    name = "Звіт про їжу та ґанок, квітень 2026.xlsx"
    encoded = [f"%{byte:02X}" for byte in name.encode()]
    pieces = ["".join(encoded[i : i + 12]) for i in range(0, len(encoded), 12)]
    params = ";\r\n ".join(
        f"filename*{index}*=utf-8''{piece}" if index == 0 else f"filename*{index}*={piece}"
        for index, piece in enumerate(pieces)
    )
    raw = with_headers(
        multipart(
            "mixed",
            [
                part("Content-Type: text/plain", "see attachment"),
                part(
                    "Content-Type: application/vnd.ms-excel\nContent-Transfer-Encoding: base64\n"
                    f"Content-Disposition: attachment;\r\n {params}",
                    b64(b"PK\x03\x04"),
                ),
            ],
        )
    )
    parsed = parse(raw)
    assert [a.filename for a in parsed.attachments] == [name]
    assert len(pieces) > 2


def test_rfc2231_in_a_wrong_charset_and_raw_8bit_filenames():
    raw = with_headers(
        multipart(
            "mixed",
            [
                part("Content-Type: text/plain", "x"),
                part(
                    "Content-Type: image/jpeg\n"
                    "Content-Disposition: attachment; filename*=us-ascii''W%F6lbung.jpg",
                    b"jpeg",
                ),
                part(
                    "Content-Type: image/jpeg\nContent-Disposition: attachment; "
                    'filename="Hofj\xe4geralle.jpg"',
                    b"jpeg",
                ),
            ],
        )
    )
    parsed = parse(raw.replace("Hofj\xe4geralle".encode(), "Hofjägeralle".encode()))
    assert [a.filename for a in parsed.attachments] == ["Wölbung.jpg", "Hofjägeralle.jpg"]


def test_attached_message_becomes_an_eml_named_after_its_subject():
    inner = message(
        f"From: old@example.com\nSubject: {encoded_word('Старий лист: про/ект', 'utf-8')}",
        "inner body",
    )
    raw = with_headers(
        multipart(
            "mixed",
            [
                part("Content-Type: text/plain", "Forwarding the mail below."),
                part("Content-Type: message/rfc822", inner),
            ],
        )
    )
    parsed = parse(raw)
    assert parsed.text == "Forwarding the mail below."
    (eml,) = parsed.attachments
    assert eml.content_type == "message/rfc822"
    assert eml.filename == "Старий лист: про_ект.eml"  # no path separators from subjects
    assert b"inner body" in eml.data
    assert b"From: old@example.com" in eml.data


def test_signed_mail_keeps_content_and_signature():
    raw = with_headers(
        multipart(
            "signed",
            [
                part("Content-Type: text/plain; charset=utf-8", "Signed text."),
                part(
                    "Content-Type: application/pgp-signature; name=signature.asc\n"
                    "Content-Disposition: attachment; filename=signature.asc",
                    "-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----",
                ),
            ],
            extra='; protocol="application/pgp-signature"; micalg=pgp-sha256',
        )
    )
    parsed = parse(raw)
    assert parsed.text == "Signed text."
    assert [a.filename for a in parsed.attachments] == ["signature.asc"]


def test_nested_alternative_inside_mixed_inside_signed():
    inner = multipart(
        "alternative",
        [
            part("Content-Type: text/plain; charset=utf-8", "Plain body"),
            multipart(
                "related",
                [
                    part("Content-Type: text/html; charset=utf-8", "<p>HTML body</p>"),
                    part("Content-Type: image/gif\nContent-ID: <g@x>", b"GIF89a"),
                ],
                boundary="rel",
            ),
        ],
        boundary="alt",
    )
    mixed = multipart(
        "mixed",
        [inner, part("Content-Type: application/pdf; name=a.pdf", b"%PDF")],
        boundary="mix",
    )
    raw = with_headers(multipart("signed", [mixed, part("Content-Type: application/pgp-signature",
                                                          b"sig")], boundary="sig"))  # fmt: skip
    parsed = parse(raw)
    assert parsed.text == "Plain body"
    assert parsed.html == "<p>HTML body</p>"
    assert [a.filename for a in parsed.attachments] == ["image-1.gif", "a.pdf", "signature.asc"]
    # inline follows the disposition or a cid: reference; this image has neither
    assert not parsed.attachments[0].inline


def test_inline_flag_follows_disposition_or_reference():
    raw = with_headers(
        multipart(
            "mixed",
            [
                part("Content-Type: text/html", '<p>x<img src="cid:used@x"></p>'),
                part("Content-Type: image/png\nContent-ID: <used@x>", b"png"),
                part("Content-Type: image/png\nContent-ID: <unused@x>", b"png"),
                part("Content-Type: image/png\nContent-Disposition: inline", b"png"),
            ],
        )
    )
    flags = [(a.inline, a.referenced) for a in parse(raw).attachments]
    assert flags == [(True, True), (False, False), (True, False)]


def test_several_inline_text_parts_are_joined_with_html():
    raw = with_headers(
        multipart(
            "mixed",
            [
                part("Content-Type: text/html", "<p>This is the html message</p>"),
                part("Content-Type: text/plain", "This is the text signature part"),
            ],
        )
    )
    parsed = parse(raw)
    assert parsed.text == "This is the html message\n\nThis is the text signature part"
    assert "This is the text signature part" in parsed.html
    assert parsed.html.startswith("<p>This is the html message</p>")


def test_multipart_without_parts_is_read_as_text():
    raw = message(
        'From: a@b.example\nContent-Type: multipart/mixed; boundary="missing"',
        "Just some text, the boundary never comes.",
    )
    parsed = parse(raw)
    assert parsed.text == "Just some text, the boundary never comes."
    assert "multipart without parts read as text" in parsed.problems


def test_missing_closing_boundary():
    raw = with_headers(
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain\r\n\r\nhello\r\n"
    )
    parsed = parse(raw)
    assert parsed.text == "hello"
    assert any("CloseBoundaryNotFound" in problem for problem in parsed.problems)


def test_header_folding_without_blanks_is_repaired():
    raw = (
        b"X-Tracker: H4sIAAAAAAAAA+NgFlrIKsWRWlGSWpSXmKPExsWi75nTrTtrwZM\r\n"
        b"Ig5drOCwmrVzP5sDoseXbDeYAxijWzLyk/IoE1owFz6ezFkxKrWjafpWpg\r\n"
        b"From: Karoline <karoline@example.com>\r\nSubject: AW: One Net Business\r\n"
        b'Content-Type: multipart/alternative;\r\nboundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nsome text\r\n--b--\r\n"
    )
    parsed = parse(raw)
    assert parsed.from_address == "karoline@example.com"
    assert parsed.subject == "AW: One Net Business"
    assert parsed.text == "some text"
    # a missing separator before an ordinary body is not "repaired" into a header
    plain = parse(b"From: a@b.example\r\nSubject: s\r\nHello there, no blank line\r\n")
    assert plain.subject == "s"
    assert "Hello there" in plain.text


# --------------------------------------------------------------------------- limits


def nested(depth: int) -> bytes:
    body = part("Content-Type: text/plain", "deep")
    for level in range(depth):
        body = multipart("mixed", [body], boundary=f"level{level}")
    return with_headers(body)


def test_depth_limit():
    parsed = parse(nested(10))
    assert parsed.text == "deep"
    with pytest.raises(MailRejected) as rejected:
        parse(nested(11))
    assert rejected.value.code == "too_deep"
    with pytest.raises(MailRejected) as rejected:
        parse(nested(4), Limits(max_depth=3))
    assert rejected.value.code == "too_deep"


def test_attached_messages_count_towards_depth():
    raw = part("Content-Type: text/plain", "deep")
    for _level in range(4):
        raw = with_headers(part("Content-Type: message/rfc822", raw))
    assert parse(raw, Limits(max_depth=4)).attachments
    with pytest.raises(MailRejected) as rejected:
        parse(raw, Limits(max_depth=3))
    assert rejected.value.code == "too_deep"


def test_part_count_limit():
    parts = [part("Content-Type: text/plain", f"part {n}") for n in range(100)]
    with pytest.raises(MailRejected) as rejected:
        parse(with_headers(multipart("mixed", parts)))  # 100 parts + the container
    assert rejected.value.code == "too_many_parts"
    assert parse(with_headers(multipart("mixed", parts[:99]))).text.startswith("part 0")


def test_container_count_is_checked_before_parsing():
    # 5000 nested containers would keep the stdlib parser busy; refused up front.
    body = part("Content-Type: text/plain", "x")
    for level in range(5000):
        body = (
            b'Content-Type: multipart/mixed; boundary="%d"\r\n\r\n--%d\r\n'
            % (
                level,
                level,
            )
            + body
            + b"\r\n--%d--" % level
        )
    with pytest.raises(MailRejected) as rejected:
        parse(with_headers(body))
    assert rejected.value.code == "too_many_parts"


def test_size_limits():
    with pytest.raises(MailRejected) as rejected:
        parse(SIMPLE, Limits(max_bytes=100))
    assert rejected.value.code == "too_large"
    assert rejected.value.detail

    big_header = message("From: a@b.example\nX-Junk: " + "x" * 5000, "body")
    with pytest.raises(MailRejected) as rejected:
        parse(big_header, Limits(max_header_bytes=1000))
    assert rejected.value.code == "headers_too_large"

    part_header = with_headers(
        multipart("mixed", [part("Content-Type: text/plain\nX-Junk: " + "y" * 3000, "z")])
    )
    with pytest.raises(MailRejected) as rejected:
        parse(part_header, Limits(max_header_bytes=2000))
    assert rejected.value.code == "headers_too_large"

    attachment = with_headers(
        multipart(
            "mixed",
            [
                part("Content-Type: text/plain", "x"),
                part(
                    "Content-Type: application/pdf\nContent-Transfer-Encoding: base64",
                    b64(b"%" * 300),
                ),  # fmt: skip
            ],
        )
    )
    with pytest.raises(MailRejected) as rejected:
        parse(attachment, Limits(max_attachment_bytes=200))
    assert rejected.value.code == "attachment_too_large"
    assert parse(attachment, Limits(max_attachment_bytes=300)).attachments[0].data == b"%" * 300


def test_time_budget_and_line_checks(monkeypatch):
    with pytest.raises(MailRejected) as rejected:
        parse(SIMPLE, Limits(max_seconds=-1))
    assert rejected.value.code == "too_large"
    # Millions of lines inside nested containers are refused before parsing.
    from aftercare.mail import parsing

    monkeypatch.setattr(parsing, "_MAX_LINE_CHECKS", 50)
    with pytest.raises(MailRejected) as rejected:
        parse(nested(3))
    assert rejected.value.code == "too_large"
    assert parse(SIMPLE).text  # no container: no line check


def test_text_is_truncated_with_a_problem():
    parsed = parse(message("From: a@b.example", "a" * 5000), Limits(max_text_chars=1000))
    assert len(parsed.text) == 1000
    assert "text truncated to 1000 characters" in parsed.problems


def test_rejection_carries_code_and_detail():
    error = MailRejected("too_large", "30 MB")
    assert error.code == "too_large" and error.detail == "30 MB"
    assert str(error) == "too_large: 30 MB"
    assert MailRejected("unparseable").detail == ""


@pytest.mark.parametrize("raw", [b"", b"\r\n\r\n", b"   ", None, 42, ["x"]])
def test_nothing_to_parse_is_unparseable(raw):
    with pytest.raises(MailRejected) as rejected:
        parse(raw)
    assert rejected.value.code == "unparseable"


def test_str_and_bytearray_input_are_accepted():
    assert parse(bytearray(SIMPLE)).subject == "Printer is broken again"
    assert parse(SIMPLE.decode("utf-8")).subject == "Printer is broken again"


def test_random_and_mangled_input_never_raises_anything_else():
    rng = random.Random(20260302)  # noqa: S311 - reproducible fuzzing, not security
    samples = [SIMPLE, nested(3), message("From: a@b.example", "x")]
    for _round in range(300):
        base = bytearray(rng.choice(samples))
        for _flip in range(rng.randint(1, 20)):
            position = rng.randrange(len(base))
            base[position] = rng.choice(b'\x00\xff\r\n:;=?<>"-\\ bqBQ')
        cut = rng.randint(0, len(base))
        for raw in (bytes(base), bytes(base[:cut]), rng.randbytes(rng.randint(1, 400))):
            with contextlib.suppress(MailRejected):
                parse(raw)


def test_large_pathological_inputs_complete():
    # Not timed: they must simply finish (no catastrophic backtracking, no recursion).
    words = " ".join(["=?utf-8?Q?a?="] * 15000)
    subject = parse(message(f"From: a@b.example\nSubject: {words}", "x")).subject
    assert subject == "a" * 15000
    addresses = ", ".join(f'"n{n}, x" <u{n}@example.com>' for n in range(1500))
    assert len(parse(message(f"From: a@b.example\nTo: {addresses}", "x")).to) == 1500
    comments = parse(message("From: " + "(" * 50000 + "a@b.example", "x"))
    assert comments.from_address in ("", "a@b.example")
    lines = "\n".join(["On " + "x " * 50000 + "wrote:"] + ["> On Mon wrote:"] * 20000)
    folded = parse(message("From: a@b.example", "reply\n" + lines))
    assert folded.reply_text.startswith("reply\nOn x x")  # too long for an attribution
    assert folded.quoted_text.startswith("> On Mon wrote:")
    html = "<div>" * 30000 + "<blockquote>" * 5000 + "<a href=x>" * 5000 + "text"
    raw = message("From: a@b.example\nContent-Type: text/html", html)
    assert "text" in parse(raw).text


# --------------------------------------------------------------------------- auto/bounce


POSTFIX_DSN = with_headers(
    multipart(
        "report",
        [
            part(
                "Content-Description: Notification\nContent-Type: text/plain; charset=us-ascii",
                "This is the mail system at host mx.example.com.\n\n"
                "I'm sorry to have to inform you that your message could not\n"
                "be delivered to one or more recipients.\n\n"
                "<gone@example.org>: host mx.example.org said: 550 5.1.1 User unknown",
            ),
            part(
                "Content-Description: Delivery report\nContent-Type: message/delivery-status",
                "Reporting-MTA: dns; mx.example.com\nArrival-Date: Mon,  2 Mar 2026 10:00:00\n\n"
                "Final-Recipient: rfc822; Gone@Example.org\n"
                "Original-Recipient: rfc822;gone@example.org\nAction: failed\n"
                "Status: 5.1.1\nRemote-MTA: dns; mx.example.org\n"
                "Diagnostic-Code: smtp; 550 5.1.1 <gone@example.org>: Recipient address\n"
                "    rejected: User unknown\n",
            ),
            part(
                "Content-Description: Undelivered Message\nContent-Type: message/rfc822",
                message(
                    "From: support@aftercare.example\nTo: gone@example.org\n"
                    "Message-ID: <out-1@aftercare.example>\n"
                    "Subject: [AC-2026-000123] Your request\nX-Aftercare-Loop: aftercare.example",
                    "Hello",
                ),
            ),
        ],
        extra="; report-type=delivery-status",
    ),
    head="From: MAILER-DAEMON@mx.example.com (Mail Delivery System)\n"
    "Subject: Undelivered Mail Returned to Sender\nAuto-Submitted: auto-replied\n"
    "To: support@aftercare.example",
)


def test_postfix_dsn():
    parsed = parse(POSTFIX_DSN)
    assert parsed.is_bounce
    assert parsed.auto_submitted
    assert parsed.bounced_recipients == ["gone@example.org"]
    assert parsed.bounce_reason.startswith("5.1.1 smtp; 550 5.1.1 <gone@example.org>")
    assert "User unknown" in parsed.bounce_reason
    assert parsed.text.startswith("This is the mail system")
    assert [a.content_type for a in parsed.attachments] == [
        "message/delivery-status",
        "message/rfc822",
    ]
    assert parsed.attachments[1].filename == "[AC-2026-000123] Your request.eml"
    assert parsed.aftercare_loop == ""  # only the top-level header counts
    assert parsed.bounced_message_id == "out-1@aftercare.example"


def test_delayed_dsn_is_automatic_but_not_a_bounce():
    raw = POSTFIX_DSN.replace(b"Action: failed", b"Action: delayed").replace(
        b"Status: 5.1.1", b"Status: 4.4.1"
    )
    parsed = parse(raw.replace(b"Auto-Submitted: auto-replied\r\n", b""))
    assert not parsed.is_bounce
    assert parsed.auto_submitted
    assert parsed.bounced_recipients == []


def test_plain_text_bounce_from_exim():
    raw = message(
        "From: Mail Delivery System <Mailer-Daemon@mail.example.net>\n"
        "Subject: Mail delivery failed: returning message to sender\nReturn-Path: <>",
        "This message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of its\n"
        "recipients. This is a permanent error. The following address(es) failed:\n\n"
        "  nobody@example.org\n"
        "    host mx.example.org [192.0.2.1]\n"
        "    SMTP error from remote mail server after RCPT TO:<nobody@example.org>:\n"
        "    550 5.1.1 No such user here\n",
    )
    parsed = parse(raw)
    assert parsed.is_bounce and parsed.auto_submitted
    assert parsed.bounced_recipients == ["nobody@example.org"]
    assert parsed.bounce_reason.startswith("550 5.1.1")
    assert parsed.bounced_message_id == ""


@pytest.mark.parametrize(
    "subject",
    [
        "Undeliverable: Your request",
        "Delivery Status Notification (Failure)",
        "Undelivered Mail Returned to Sender",
    ],
)
def test_bounce_subjects_from_postmaster(subject):
    raw = message(f"From: postmaster@example.org\nSubject: {subject}", "<x@example.org>: failed")
    assert parse(raw).is_bounce


def test_a_human_writing_about_delivery_is_not_a_bounce():
    raw = message("From: jane@example.org\nSubject: Delivery failed for our order", "Hi")
    parsed = parse(raw)
    assert not parsed.is_bounce and not parsed.auto_submitted


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Auto-Submitted: auto-replied", "Auto-Submitted: auto-replied"),
        ("Auto-Submitted: auto-generated; owner-email=x@y", "Auto-Submitted: auto-generated"),
        ("Precedence: bulk", "Precedence: bulk"),
        ("Precedence: junk", "Precedence: junk"),
        ("Precedence: list", "Precedence: list"),
        ("Precedence: auto_reply", "Precedence: auto_reply"),
        ("X-Autoreply: yes", "X-Autoreply"),
        ("X-Autorespond: Out of office", "X-Autorespond"),
        ("X-Auto-Response-Suppress: All", "X-Auto-Response-Suppress: All"),
        (
            "X-Auto-Response-Suppress: DR, OOF, AutoReply",
            "X-Auto-Response-Suppress: DR, OOF, AutoReply",
        ),  # noqa: E501
        ("X-Loop: helpdesk@example.org", "X-Loop"),
        ("List-Id: <users.lists.example.org>", "List-Id"),
        ("List-Unsubscribe: <mailto:leave@example.org>", "List-Unsubscribe"),
        ("Return-Path: <>", "Return-Path: <>"),
    ],
)
def test_automatic_mail_headers(header, reason):
    parsed = parse(message(f"From: a@b.example\nSubject: Re: hello\n{header}", "I am away."))
    assert parsed.auto_submitted
    assert parsed.auto_reason == reason
    assert not parsed.is_bounce


@pytest.mark.parametrize(
    "header",
    ["Auto-Submitted: no", "Precedence: first-class", "X-Auto-Response-Suppress: DR, RN", ""],
)
def test_ordinary_mail_is_not_automatic(header):
    parsed = parse(message(f"From: a@b.example\nSubject: Auto: engine light\n{header}", "Hi"))
    assert not parsed.auto_submitted
    assert parsed.auto_reason == ""


def test_out_of_office_subject():
    parsed = parse(message("From: a@b.example\nSubject: Automatic reply: Your request", "Away"))
    assert parsed.auto_submitted and parsed.auto_reason == "Subject: automatic reply"


def test_read_receipt_is_automatic():
    raw = with_headers(
        multipart(
            "report",
            [
                part("Content-Type: text/plain", "Your message was read."),
                part(
                    "Content-Type: message/disposition-notification",
                    "Final-Recipient: rfc822; a@b.example\nDisposition: manual-action/MDN-sent-manually; displayed",
                ),  # noqa: E501
            ],
            extra="; report-type=disposition-notification",
        )
    )
    parsed = parse(raw)
    assert parsed.auto_submitted and not parsed.is_bounce


def test_own_loop_header():
    parsed = parse(message("From: a@b.example\nX-Aftercare-Loop:  desk.example ", "x"))
    assert parsed.aftercare_loop == "desk.example"


# --------------------------------------------------------------------------- quoting in mail


def test_reply_text_and_quoted_text():
    raw = message(
        "From: a@b.example\nContent-Type: text/plain; charset=windows-1251",
        (
            "Спасибо, всё работает.\n\n-- \nИван\n\n"
            "01.03.2026 10:00, Support пишет:\n> Попробуйте перезагрузить.\n"
        ).encode("cp1251"),
    )
    parsed = parse(raw)
    assert parsed.reply_text == "Спасибо, всё работает.\n\n-- \nИван"
    assert parsed.quoted_text.startswith("01.03.2026 10:00, Support пишет:")


def test_html_only_gmail_reply_is_folded():
    html = (
        '<div dir="ltr">Thanks, that fixed it.</div><br><div class="gmail_quote">'
        '<div dir="ltr" class="gmail_attr">On Mon, 2 Mar 2026 at 10:00, Support &lt;'
        'support@aftercare.example&gt; wrote:<br></div><blockquote class="gmail_quote">'
        "Please restart the service.</blockquote></div>"
    )
    parsed = parse(message("From: a@b.example\nContent-Type: text/html; charset=utf-8", html))
    assert parsed.reply_text == "Thanks, that fixed it."
    assert parsed.quoted_text.endswith("> Please restart the service.")


# --------------------------------------------------------------------------- content hash


def test_content_hash_ignores_transport_headers():
    core = (
        b"From: a@b.example\r\nTo: support@aftercare.example\r\nSubject: hi\r\n"
        b"Message-ID: <m1@b.example>\r\nDate: Mon, 2 Mar 2026 10:15:00 +0100\r\n\r\nbody\r\n"
    )
    route_a = (
        b"Return-Path: <a@b.example>\r\nDelivered-To: support@aftercare.example\r\n"
        b"Received: from mx1.example (mx1.example [192.0.2.1])\r\n\tby in.aftercare.example;"
        b" Mon, 2 Mar 2026 10:15:02 +0100\r\nX-Original-To: support@aftercare.example\r\n"
        b"Authentication-Results: in.aftercare.example; dkim=pass\r\n"
        b"DKIM-Signature: v=1; a=rsa-sha256; d=b.example; b=AAAA\r\n" + core
    )
    route_b = (
        b"From b@example  Mon Mar  2 10:15:05 2026\r\n"
        b"Received: from mx2.example (mx2.example [198.51.100.7])\r\n by other;"
        b" Mon, 2 Mar 2026 10:15:04 +0100\r\nReceived: from relay by mx2\r\n"
        b"ARC-Seal: i=1; a=rsa-sha256; cv=none; b=BBBB\r\nX-Spam-Status: No, score=0.1\r\n"
        b"Delivered-To: helpdesk@aftercare.example\r\n" + core.replace(b"\r\n", b"\n")
    )
    assert content_hash(route_a) == content_hash(route_b) == content_hash(core)
    assert len(content_hash(core)) == 64
    assert content_hash(core) != content_hash(core.replace(b"body", b"other body"))
    assert content_hash(core) != content_hash(core.replace(b"Subject: hi", b"Subject: ho"))
    assert content_hash(b"") == content_hash(b"")
    assert isinstance(content_hash(b"\xff\x00 garbage"), str)


# --------------------------------------------------------------------------- ticket numbers


@pytest.mark.parametrize(
    ("subject", "numbers"),
    [
        ("Re: [AC-2026-000123] Printer", ["AC-2026-000123"]),
        (
            "ac-2026-000123 and AC-2025-999999, again [ac-2026-000123]",
            ["AC-2026-000123", "AC-2025-999999"],
        ),  # fmt: skip
        ("AW: Ticket#AC-2026-000007", ["AC-2026-000007"]),
        ("XAC-2026-000123 or AC-2026-0001234 or AC-26-000123", []),
        ("", []),
    ],
)
def test_extract_ticket_numbers(subject, numbers):
    assert extract_ticket_numbers(subject) == numbers


# --------------------------------------------------------------------------- mbox


def test_iter_mbox_splits_and_unescapes():
    data = (
        b"From alice@example.com Mon Mar  2 10:00:00 2026\n"
        b"From: alice@example.com\nSubject: one\n\n"
        b"Hello\n>From the start, this line was escaped.\n>>From twice escaped.\n\n"
        b"From time to time an unescaped line appears.\n\n"
        b"From bob@example.com Mon Mar  2 11:00:00 2026\n"
        b"From: bob@example.com\nSubject: two\n\nSecond body\n\n"
        b"From MAILER-DAEMON Sun Aug  7 11:40:37 2022 extra info\n"
        b"From: carol@example.com\nSubject: three\n\nThird\n"
    )
    messages = list(iter_mbox(data))
    assert len(messages) == 3
    first = parse(messages[0])
    assert first.subject == "one"
    assert "From the start, this line was escaped." in first.text
    assert ">From twice escaped." in first.text
    assert "From time to time an unescaped line appears." in first.text
    assert parse(messages[1]).text == "Second body"
    assert parse(messages[2]).from_address == "carol@example.com"
    assert not messages[0].startswith(b"From ")


def test_iter_mbox_crlf_and_empty():
    data = b"From a@b Mon Mar  2 10:00:00 2026\r\nSubject: x\r\n\r\nbody\r\n\r\n"
    assert list(iter_mbox(data)) == [b"Subject: x\r\n\r\nbody\r\n"]
    assert list(iter_mbox(b"")) == []
    assert list(iter_mbox(b"Subject: not an mbox\n\nbody")) == [b"Subject: not an mbox\n\nbody"]
