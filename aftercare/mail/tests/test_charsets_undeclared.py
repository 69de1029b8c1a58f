"""Mail in non-Latin charsets that does not say which: raw 8-bit subjects, bodies and
attachment names without any charset label (old mailers, scanners, gateways) are
detected, not turned into mojibake, and the guess is written down."""

from __future__ import annotations

import pytest

from aftercare.mail.ingest import ingest
from aftercare.mail.models import InboundMessage
from aftercare.mail.parsing import parse

pytestmark = pytest.mark.django_db
Outcome = InboundMessage.Outcome

CASES = {
    # charset: (subject, body, attachment stem, codec we expect to be named)
    "gb2312": (
        "关于发票打印的问题",
        "您好，发票无法打印，请帮忙检查。谢谢！",
        "发票截图",
        "gb18030",
    ),
    "shift_jis": (
        "請求書の印刷について",
        "お世話になっております。請求書が印刷できません。確認をお願いします。",
        "請求書",
        "cp932",
    ),
    "big5": ("關於發票列印的問題", "您好，發票無法列印，請協助處理。謝謝！", "發票截圖", "cp950"),
    "euc-kr": (
        "청구서 인쇄 문제",
        "안녕하세요. 청구서가 인쇄되지 않습니다. 확인 부탁드립니다.",
        "청구서",
        "cp949",
    ),
    "windows-1251": (
        "Проблема с печатью счета",
        "Здравствуйте! Счет не печатается, проверьте, пожалуйста.",
        "Счет",
        "cp1251",
    ),
}


def undeclared(charset: str, subject: str, body: str, stem: str) -> bytes:
    """A message whose 8-bit subject, body and file name carry no charset label."""
    encode = lambda text: text.encode(charset)  # noqa: E731
    return (
        b"From: Customer <customer@alpha.example>\r\n"
        b"To: support@aftercare.test\r\n"
        b"Subject: " + encode(subject) + b"\r\n"
        b"Date: Tue, 01 Dec 2026 10:00:00 +0800\r\n"
        b"Message-ID: <" + charset.encode() + b"-undeclared@alpha.example>\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="XX"\r\n'
        b"\r\n"
        b"--XX\r\n"
        b"Content-Type: text/plain\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n"
        b"\r\n" + encode(body) + b"\r\n"
        b"--XX\r\n"
        b'Content-Type: image/png; name="' + encode(stem) + b'.png"\r\n'
        b'Content-Disposition: attachment; filename="' + encode(stem) + b'.png"\r\n'
        b"Content-Transfer-Encoding: base64\r\n"
        b"\r\n"
        b"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==\r\n"
        b"--XX--\r\n"
    )


@pytest.mark.parametrize("charset", list(CASES))
def test_undeclared_charsets_are_detected_in_subject_body_and_file_name(org, charset):
    subject, body, stem, codec = CASES[charset]
    org.mail_domains = "alpha.example"
    org.save()
    raw = undeclared(charset, subject, body, stem)
    parsed = parse(raw)
    assert parsed.subject == subject
    assert parsed.text == body
    assert [a.filename for a in parsed.attachments] == [f"{stem}.png"]
    assert f"charset 'none' replaced by {codec}" in parsed.problems

    result = ingest(raw)
    assert result.outcome == Outcome.TICKET
    ticket = result.inbound.ticket
    assert ticket.subject == subject and result.inbound.subject == subject
    assert ticket.description == body
    assert [a.name for a in ticket.attachments.all()] == [f"{stem}.png"]
    assert f"replaced by {codec}" in result.inbound.detail  # the guess is on record


@pytest.mark.parametrize("charset", list(CASES))
def test_a_wrong_declared_charset_is_replaced_and_noted(charset):
    subject, body, _stem, codec = CASES[charset]
    raw = (
        b"From: c@alpha.example\r\nSubject: x\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + body.encode(charset)
    )
    parsed = parse(raw)
    assert parsed.text == body
    assert f"charset 'utf-8' replaced by {codec}" in parsed.problems


def test_utf8_and_ascii_need_no_guess():
    parsed = parse("From: a@alpha.example\r\nSubject: Grüße 你好\r\n\r\nПривет".encode())
    assert parsed.subject == "Grüße 你好" and parsed.text == "Привет"
    assert parsed.problems == []
