"""Is a reply to an offer or an approval mail a yes, a no — or should a person read it?

``decide(text)`` reads the first meaningful lines of a reply (the parsed mail's
``reply_text``: what the person wrote, without the quoted mail) in English, Romanian,
French, Ukrainian and Russian and answers ``"yes"``, ``"no"`` or ``None`` (unsure).

It errs on the side of ``None``: a wrong "yes" confirms an offer or approves an action
the customer refused, while ``None`` only puts the mail in front of an agent. So:

* negation turns a yes-word into a no ("We do not accept", "Je ne confirme pas",
  "Не підтверджую", "Nu confirmăm", "Не подтверждаем");
* a no-word is a no ("decline", "refuzăm", "refuse", "відхиляю", "отказываемся");
* both kinds of signal ("Yes, we decline"), a yes with a stray negation ("Yes, but not
  before Monday"), a hedge ("maybe", "later", "if", "but"), a question mark, and long
  texts are unsure;
* quoted lines, signatures and closing formulas ("Thanks,", "Cu stimă,") end the reading.
"""

from __future__ import annotations

import re
import unicodedata

YES = "yes"
NO = "no"
# The reason code an unsure reply is held with (``InboundMessage.reason``).
UNSURE_REASON = "unclear_decision"

# More than this is not "a decision" but a message a person should read.
MAX_LINES = 4
MAX_WORDS = 30
# How many words before a yes-word a negation reaches ("we do not really accept").
WINDOW = 4

# Whole words that say yes.
YES_WORDS = frozenset(
    {
        "yes", "yep", "yeah", "ok", "okay", "approved", "agreed",  # en
        "da", "aprob", "bine",  # ro
        "oui", "ouais", "accord",  # fr (d'accord is split: d' accord)
        "так", "згоден", "згодна", "згодні", "добре",  # uk
        "да", "хорошо", "ок",  # ru
    }
)  # fmt: skip
# Word beginnings that say yes, with their inflections (confirm, confirmed, confirmăm,
# confirme, confirmons, підтверджую, подтверждаем, ...).
YES_STEMS = (
    "confirm", "accept", "approv", "agree",  # en (and ro/fr confirm*, accept*)
    "aprob", "acord",  # ro: aprobăm, aprobat; de acord
    "approuv",  # fr: approuve, approuvé, approuvons
    "підтверд", "підтвердж", "приймаю", "приймаєм", "прийнят", "прийнято",  # uk
    "погоджу", "погоджен", "погоджує", "схвал",
    "подтверд", "подтвержд", "принима", "принят", "принято",  # ru
    "соглас", "одобр",
)  # fmt: skip
# Whole words that say no.
NO_WORDS = frozenset(
    {
        "no", "nope", "nah",  # en
        "nu",  # ro
        "non",  # fr
        "ні", "нi",  # uk (the second with a Latin i, as typed on mixed layouts)
        "нет", "неа",  # ru
    }
)  # fmt: skip
# Word beginnings that say no.
NO_STEMS = (
    "declin", "reject", "refus", "decline", "cancel", "unaccept", "disagree", "disapprov",
    "refuz", "resping", "respins", "anulăm", "anulat", "anula", "inaccept",  # ro
    "décline", "déclin", "rejet", "rejett", "annul",  # fr (refus* above)
    "відмов", "відхил", "скасов", "неприйнятн",  # uk
    "отказ", "отклон", "отмен", "неприемлем",  # ru
)  # fmt: skip
# Words that negate what follows (or, in French, surround it: "ne ... pas").
NEGATORS = frozenset(
    {
        "not", "don't", "dont", "doesn't", "doesnt", "didn't", "didnt", "won't", "wont",
        "can't", "cant", "cannot", "never", "neither", "nor", "isn't", "aren't",
        "shouldn't", "wouldn't", "couldn't", "without",
        "nu", "nici", "niciodată", "fără",  # ro
        "ne", "n'", "pas", "jamais", "sans", "aucun", "aucune",  # fr
        "не", "ні", "ніколи", "без",  # uk
        "не", "нет", "никогда", "ни",  # ru
    }
)  # fmt: skip
# Words that make a decision conditional or deferred: a person reads it.
HEDGES = frozenset(
    {
        "maybe", "perhaps", "later", "if", "but", "unless", "except", "however", "depends",
        "probably", "question", "questions", "whether", "wait", "waiting", "check",
        "checking", "discuss", "review", "consider", "could", "would", "should",
        "poate", "dacă", "daca", "dar", "însă", "insa", "târziu", "tarziu", "depinde",
        "întrebare", "intrebare", "condiția", "conditia", "așteptăm", "asteptam", "aștept",
        "astept", "verificăm", "verificam", "discutăm", "discutam", "puteți", "puteti",
        "peut-être", "peut-etre", "mais", "tard", "dépend", "depend", "sauf", "attendre",
        "attendons", "vérifier", "vérifions", "pouvez", "pourriez", "pourrions",
        "можливо", "якщо", "але", "пізніше", "залежить", "питання", "проте", "чи",
        "чекаємо", "перевіримо", "обговоримо", "можете", "могли",
        "может", "возможно", "если", "но", "позже", "зависит", "вопрос", "однако", "ли",
        "ждем", "ждём", "проверим", "обсудим", "можете", "могли",
    }
)  # fmt: skip
# Polite phrases that contain a "no" word but say nothing about the decision.
NEUTRAL_PHRASES = (
    "no problem", "no worries", "nicio problemă", "nici o problemă", "nicio problema",
    "pas de problème", "pas de souci", "sans problème", "aucun problème", "aucun souci",
    "без проблем", "не за що", "не за что", "нема за що",
)  # fmt: skip

# Lines that end the reading: a signature, a quote header, a closing formula.
_SIGNATURE = re.compile(r"^(--\s*|__+|-{3,}.*|sent from my .*|trimis de pe .*|envoyé de .*)$")
_QUOTE_HEADER = re.compile(
    r"^(on .+ wrote:?|le .+ a écrit ?:?|în .+ a scris:?|in .+ a scris:?|.+ пише:?"
    r"|.+ написал[а]?:?|.+ написав(ла)?:?|from: .+|de la: .+|de ?: .+|від: .+|от: .+)$"
)
_CLOSING = re.compile(
    r"^(thanks?( you)?( very much)?|many thanks|thx|regards|best( regards| wishes)?"
    r"|kind regards|cheers|sincerely|yours( sincerely| truly)?"
    r"|mulțumesc|multumesc|mulțumim|multumim|cu stimă|cu stima|cu respect|toate cele bune"
    r"|o zi bună|o zi buna|merci( beaucoup)?|cordialement|bien cordialement|bien à vous"
    r"|salutations|sincères salutations|bonne journée|дякую|дякуємо|з повагою|гарного дня"
    r"|спасибо|благодарю|с уважением|всего доброго|хорошего дня)[\s,.!]*$"
)
_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*'?|\d+", re.UNICODE)
# Romanian letters with a cedilla (ş ţ), typed on old keyboards, as the comma-below ones.
_TRANSLATE = str.maketrans({"ş": "ș", "ţ": "ț", "’": "'", "ʼ": "'", "`": "'", "‘": "'"})
# French elisions and English contractions split into the two words they stand for.
_ELISION = re.compile(r"^(n|j|l|d|qu|c|s|m|t)'(?=\w)")


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFC", text).translate(_TRANSLATE).lower()


def decision_lines(text: str) -> list[str]:
    """The lines that carry the answer: up to the quote, the signature or the closing."""
    lines: list[str] = []
    for raw in (text or "").splitlines():
        line = _normalise(raw).strip()
        if not line:
            continue
        if line.startswith(">"):
            if lines:
                break
            continue
        if _SIGNATURE.match(line) or _QUOTE_HEADER.match(line) or _CLOSING.match(line):
            break
        lines.append(line)
        if len(lines) > MAX_LINES:
            break
    return lines


def _tokens(text: str) -> list[str]:
    for phrase in NEUTRAL_PHRASES:
        text = text.replace(phrase, " ")
    out: list[str] = []
    for word in _WORD.findall(text):
        match = _ELISION.match(word)
        if match:  # n'accepte -> n' accepte; j'accepte -> j' accepte
            out.append(match.group(0))
            word = word[match.end() :]
        if word.endswith("n't") and word not in NEGATORS:  # shouldn't -> should n't
            out.extend([word[:-3], "not"])
            continue
        out.append(word)
    return out


def _is_yes(word: str) -> bool:
    return word in YES_WORDS or word.startswith(YES_STEMS)


def _is_no(word: str) -> bool:
    return word in NO_WORDS or word.startswith(NO_STEMS)


def _negates(word: str) -> bool:
    return word in NEGATORS


def decide(text: str) -> str | None:
    """``"yes"``, ``"no"`` or ``None`` (unsure: a person should read the reply)."""
    lines = decision_lines(text)
    if not lines or len(lines) > MAX_LINES:
        return None
    body = " ".join(lines)
    if "?" in body or "¿" in body:
        return None
    words = _tokens(body)
    if not words or len(words) > MAX_WORDS:
        return None
    if any(w in HEDGES for w in words):
        return None
    yes = no = stray_negation = False
    for i, word in enumerate(words):
        negated = any(_negates(w) for w in words[max(0, i - WINDOW) : i])
        if _is_no(word):
            if negated and word not in NEGATORS:
                return None  # "we do not refuse": a double negation, a person reads it
            no = True
        elif _is_yes(word):
            if negated:
                no = True  # "we do not accept", "je ne confirme pas", "не підтверджую"
            else:
                yes = True
        elif (
            _negates(word)
            and word not in ("pas", "n'")
            and not any(_is_yes(w) for w in words[i + 1 : i + 1 + WINDOW])
        ):
            # A negation that negates no yes-word within reach ("Yes, not before
            # Monday"): harmless next to a no, suspicious next to a yes.
            stray_negation = True
    if yes and (no or stray_negation):
        return None
    if yes:
        return YES
    if no:
        return NO
    return None
