"""split_quoted(): the new part of a reply versus the quoted history below it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aftercare.mail.quoting import split_quoted


def test_trailing_quote_with_attribution():
    text = (
        "Thanks, fixed.\n\n"
        "On Mon, 2 Mar 2026 at 10:00, John Smith <john@example.com> wrote:\n"
        "> Please restart.\n> \n>> older\n"
    )
    reply, quoted = split_quoted(text)
    assert reply == "Thanks, fixed."
    assert quoted.startswith("On Mon, 2 Mar 2026 at 10:00, John Smith")
    assert quoted.endswith(">> older")


def test_attribution_wrapped_over_two_lines():
    text = (
        "Thanks\n\nOn Mon, 2 Mar 2026 at 10:00, John Smith <\njohn@example.com> wrote:\n\n> old\n"
    )
    assert split_quoted(text) == (
        "Thanks",
        "On Mon, 2 Mar 2026 at 10:00, John Smith <\njohn@example.com> wrote:\n\n> old",
    )


def test_trailing_quote_without_attribution():
    assert split_quoted("ok\n\n> a\n> b\n\n") == ("ok", "> a\n> b")


@pytest.mark.parametrize(
    "attribution",
    [
        "On Mon, 2 Mar 2026 at 10:00, Support <support@aftercare.example> wrote:",
        "Le lun. 2 mars 2026 à 10:00, Support <support@aftercare.example> a écrit :",
        "Am 02.03.2026 um 10:00 schrieb Support <support@aftercare.example>:",
        "În 2 mar. 2026, la 10:00, Support <support@aftercare.example> a scris:",
        "Pe 2 mar. 2026, la 10:00, Support <support@aftercare.example> a scris:",
        "2 марта 2026 г., в 10:00, Support <support@aftercare.example> написал(а):",
        "02.03.2026 10:00, Support пишет:",
        "пн, 2 бер. 2026 о 10:00 Support <support@aftercare.example> написав:",
        "02.03.2026 10:00, Служба підтримки пише:",
        "Support wrote:",
        "Support <support@aftercare.example> schrieb:",
    ],
)
def test_attributions_in_several_languages(attribution):
    text = f"My answer.\n\n{attribution}\n> The old question.\n"
    reply, quoted = split_quoted(text)
    assert reply == "My answer."
    assert quoted == f"{attribution}\n> The old question."


def test_strong_attribution_with_unquoted_history():
    text = "Reply\n\nOn Mon, 2 Mar 2026 at 10:00, X <x@example.com> wrote:\nold unquoted\nhistory"
    assert split_quoted(text) == (
        "Reply",
        "On Mon, 2 Mar 2026 at 10:00, X <x@example.com> wrote:\nold unquoted\nhistory",
    )


def test_prose_that_mentions_writing_is_not_history():
    text = "Hi,\n\nin the manual the author wrote:\nrestart the service first.\n\nThanks"
    assert split_quoted(text) == (text, "")


@pytest.mark.parametrize(
    "separator",
    [
        "-----Original Message-----",
        "-----Ursprüngliche Nachricht-----",
        "-------- Message original --------",
        "-------- Original-Nachricht --------",
        "----- Mesaj original -----",
        "-------- Исходное сообщение --------",
        "-------- Оригінальне повідомлення --------",
    ],
)
def test_original_message_separators(separator):
    text = f"Answer\n\n-- \nJane\n\n{separator}\nFrom: x\nSent: y\n\nold text"
    reply, quoted = split_quoted(text)
    assert reply == "Answer\n\n-- \nJane"  # the signature stays with the reply
    assert quoted == f"{separator}\nFrom: x\nSent: y\n\nold text"


@pytest.mark.parametrize(
    "block",
    [
        "From: Support <support@aftercare.example>\nSent: Monday, March 2, 2026 10:00 AM\n"
        "To: Jane <jane@example.org>\nSubject: RE: Printer",
        "________________________________\nFrom: Support\nSent: Monday\nTo: Jane\n"
        "Subject: RE: Printer",
        "Von: Support <support@aftercare.example>\nGesendet: Montag, 2. März 2026 10:00\n"
        "An: Jane\nBetreff: AW: Drucker",
        "Gesendet: Montag, 2. März 2026 um 10:00 Uhr\nVon: Support\nAn: Jane\nBetreff: AW: x",
        "De : Support\nEnvoyé : lundi 2 mars 2026 10:00\nÀ : Jane\nObjet : RE: Imprimante",
        "De la: Support\nTrimis: luni, 2 martie 2026 10:00\nCătre: Jane\nSubiect: RE: x",
        "От: Support\nОтправлено: 2 марта 2026 г. 10:00\nКому: Jane\nТема: RE: Принтер",
        "Від: Support\nНадіслано: 2 березня 2026 р. 10:00\nКому: Jane\nТема: RE: Принтер",
        "*From:* Support\n*Sent:* Monday\n*To:* Jane\n*Subject:* RE: Printer",
    ],
)
def test_outlook_header_blocks(block):
    text = f"New answer.\n\n{block}\n\nOld text of the thread."
    reply, quoted = split_quoted(text)
    assert reply == "New answer."
    assert quoted == f"{block}\n\nOld text of the thread."


@pytest.mark.parametrize(
    "forward",
    [
        "-------- Forwarded Message --------\nSubject: Printer\nFrom: Boss <b@example.org>\n"
        "To: Jane\n\n> Please fix the printer.",
        "---------- Forwarded message ---------\nFrom: Boss <b@example.org>\nDate: Mon\n"
        "Subject: Printer\nTo: Jane\n\nPlease fix the printer.",
        "Begin forwarded message:\n\n> From: Boss\n> Subject: Printer\n> Please fix it.",
        "-------- Weitergeleitete Nachricht --------\nBetreff: Drucker\nVon: Chef\n\nBitte.",
        "From: Boss <b@example.org>\nSent: Monday\nTo: Jane\nSubject: FW: Printer\n\nPlease.",
        "Von: Chef\nGesendet: Montag\nAn: Jane\nBetreff: WG: Drucker\n\nBitte.",
    ],
)
def test_forwarded_content_is_the_request(forward):
    text = f"See below, please help.\n\n{forward}\n"
    assert split_quoted(text) == (text, "")


def test_reply_above_a_forward_is_still_folded_before_it():
    text = (
        "Done.\n\nOn Mon, 2 Mar 2026 at 10:00, Jane <jane@example.org> wrote:\n"
        "> See below.\n> -------- Forwarded Message --------\n> Please fix.\n"
    )
    reply, quoted = split_quoted(text)
    assert reply == "Done."
    assert "Forwarded Message" in quoted


def test_interleaved_answers_are_kept_whole():
    text = (
        "On Mon, 2 Mar 2026 at 10:00, Support <s@example.com> wrote:\n"
        "> Which version?\n4.2\n> Which browser?\nFirefox\n"
    )
    assert split_quoted(text) == (text, "")
    inline = "Hi,\n\n> Which version?\n\n4.2\n\n> Which browser?\n\nFirefox\n\nJane"
    assert split_quoted(inline) == (inline, "")


def test_bottom_posting_is_kept_whole():
    text = "On Mon, 2 Mar 2026, X wrote:\n> question\n\nmy answer below"
    assert split_quoted(text) == (text, "")


def test_only_quoted_content_is_never_lost():
    assert split_quoted("> only\n> quoted") == ("> only\n> quoted", "")
    only_attribution = "On Mon, 2 Mar 2026, X wrote:\n> old"
    assert split_quoted(only_attribution) == (only_attribution, "")
    outlook = "From: a\nSent: b\nTo: c\nSubject: d\n\ntext"
    assert split_quoted(outlook) == (outlook, "")


def test_signature_is_kept_and_quote_after_it_folded():
    text = "Reply\n-- \nJane Doe\nACME\n\n> quoted after the signature"
    assert split_quoted(text) == ("Reply\n-- \nJane Doe\nACME", "> quoted after the signature")


def test_crlf_and_empty_input():
    assert split_quoted("") == ("", "")
    assert split_quoted("a\r\n\r\n> b\r\n") == ("a", "> b")


def test_large_inputs_complete():
    # No timing: these must simply finish (bounded regexes, linear passes).
    lines = ["x" * 900 + ":"] * 3000 + ["schrieb " * 100 + ":"] * 3000
    text = "reply\n" + "\n".join(lines) + "\n" + "> q\n" * 100000
    reply, quoted = split_quoted(text)
    assert reply.startswith("reply") and quoted.startswith("> q")
    one_line = "On " + "a " * 500000 + "wrote:\n> x"
    assert split_quoted(one_line)[0]
    colons = "\n".join(["From: a"] * 50000)
    assert split_quoted(colons) == (colons, "")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("> \n:-_*OnwrteFmSubjc@.1é")), max_size=400))
def test_never_loses_text(text):
    reply, quoted = split_quoted(text)
    if quoted:
        assert reply.strip()
        assert reply.rstrip() in text.replace("\r\n", "\n")
        assert quoted in text.replace("\r\n", "\n")
    else:
        assert reply == text
