"""``lib.replies.decide``: yes, no or unsure, in en/ro/fr/uk/ru (finding 13)."""

from __future__ import annotations

import pytest

from aftercare.lib.replies import decide

YES = [
    # en
    "Yes",
    "Confirm",
    "Confirmed.",
    "We confirm",
    "Yes, we accept.",
    "Accepted",
    "I approve",
    "Approve",
    "OK",
    "Agreed, go ahead",
    # ro
    "Da",
    "Confirmăm",
    "Confirmam oferta",
    "Confirm",
    "Acceptăm oferta",
    "Aprob",
    "Sunt de acord",
    "Da, de acord",
    "Confirmăm oferta, mulţumim",  # cedilla ţ
    # fr
    "Oui",
    "Je confirme",
    "Nous confirmons la commande",
    "J'accepte",
    "J’accepte l’offre",
    "Accepté",
    "D'accord",
    "Oui, pas de problème",
    "Bon pour accord",
    "J'approuve",
    # uk
    "Так",
    "Підтверджую",
    "Підтверджуємо замовлення",
    "Приймаємо",
    "Погоджую",
    "Так, погоджуємось",
    "Згоден",
    # ru
    "Да",
    "Подтверждаю.",
    "Подтверждаем",
    "Принимаем предложение",
    "Согласен",
    "Да, согласовано",
    "Одобряю",
]

NO = [
    # en
    "No",
    "We do not accept",
    "We don't accept",
    "We cannot confirm",
    "We can't confirm this offer",
    "I do not approve",
    "Not accepted",
    "Decline",
    "decline.",
    "We decline the offer",
    "Rejected",
    "No, we do not accept",
    "This is unacceptable",
    # ro
    "Nu",
    "Nu confirmăm",
    "Nu acceptăm oferta",
    "Nu sunt de acord",
    "Refuz",
    "Refuzăm, mulțumim",
    "Respingem oferta",
    "Nu, prețul este prea mare",
    # fr
    "Non",
    "Je ne confirme pas",
    "Nous ne confirmons pas",
    "Je n'accepte pas",
    "Je n’accepte pas cette offre",
    "Je ne suis pas d'accord",
    "Nous refusons",
    "Refusé",
    "Je décline l'offre",
    "Inacceptable",
    # uk
    "Ні",
    "Не підтверджую, ціна зависока",
    "Не підтверджуємо",
    "Не погоджую",
    "Відхиляю",
    "Відмовляємося від пропозиції",
    "Ні, дякую",
    "Не приймаємо",
    # ru
    "Нет",
    "Не подтверждаем",
    "Не подтверждаю",
    "Не согласен",
    "Отказываемся",
    "Отказ",
    "Отклоняю",
    "Нет, спасибо",
    "Не принимаем ваше предложение",
]

UNSURE = [
    "",
    "   \n\n  ",
    "Thanks for the offer",
    # questions
    "Can we confirm later?",
    "Confirm?",
    "Could you confirm the price",
    "Peut-on confirmer plus tard ?",
    "Можемо підтвердити пізніше?",
    "Putem confirma mâine?",
    # mixed signals
    "Yes, we decline",
    "No, we accept",
    "Da, dar nu acum",
    "Oui, mais pas avant lundi",
    "Yes, but not before Monday",
    "Так, але не зараз",
    "Да, но не сейчас",
    "We don't refuse",
    # hedges and deferrals
    "Maybe",
    "Perhaps we accept",
    "We will confirm later",
    "Waiting for confirmation from our director",
    "Poate confirmăm săptămâna viitoare, depinde de buget",
    "Peut-être",
    "Можливо",
    "Возможно, подтвердим позже",
    # long texts
    "We have read the offer carefully and discussed it internally with the board "
    "and the finance team, and we would like to confirm most of it, except line 3 "
    "which we think is priced too high for what it includes.",
    "Confirm\nline two\nline three\nline four\nline five\nline six",
]


@pytest.mark.parametrize("text", YES)
def test_clear_yes(text):
    assert decide(text) == "yes"


@pytest.mark.parametrize("text", NO)
def test_clear_no_including_negation(text):
    assert decide(text) == "no"


@pytest.mark.parametrize("text", UNSURE)
def test_unsure_decides_nothing(text):
    assert decide(text) is None


@pytest.mark.parametrize(
    "text,answer",
    [
        # More than the first line is read: the greeting is not the answer ...
        ("Hello Ana,\n\nWe do not accept.\n\nBest regards,\nIon", "no"),
        ("Bonjour,\nje ne confirme pas.\nCordialement,\nMarie", "no"),
        ("Добрий день!\nНе підтверджую, ціна зависока.\nЗ повагою,\nОлена", "no"),
        ("Hi,\nyes, we confirm.\n\nThanks,\nAna", "yes"),
        # ... and a condition on the second line makes a yes unsure.
        ("Confirm\n\nbut please move the date to April", None),
        # Quoted text and signatures are not read.
        ("Yes\n\n> Please do not reply if you do not accept\n> No", "yes"),
        ("We decline.\n-- \nAna Ionescu\nYes Consulting SRL", "no"),
        ("Da\n\nÎn 3 mart. 2025, Aftercare a scris:\n> Nu", "yes"),
        ("Oui\nLe lun. 3 mars 2025, Aftercare a écrit :\n> refus", "yes"),
    ],
)
def test_meaningful_lines_quotes_and_signatures(text, answer):
    assert decide(text) == answer
