"""Split the new part of a reply from the quoted history below it.

``split_quoted(text) -> (reply, quoted)`` works line by line with anchored regexes that
have no nested quantifiers, and looks at each line a bounded number of times, so the
work is linear in the size of the text whatever it contains.

What counts as history:

* a separator line such as ``-----Original Message-----`` (also German, French,
  Romanian, Russian, Ukrainian, Czech and Polish forms) and everything after it;
* an Outlook-style header block (``From:`` / ``Sent:`` / ``To:`` / ``Subject:`` and the
  equivalents in those languages) and everything after it, unless its subject shows a
  forward (``FW:``, ``Fwd:``, ``WG:`` ...);
* an attribution line ("On <date>, X wrote:", "Le ... a écrit :", "Am ... schrieb ...:",
  "În/Pe ... a scris:", "... написал(а):", "... пишет:", "... написав(ла):",
  "... пише:"), possibly wrapped over two lines, followed by quoted lines (or, when it
  carries a date, by unquoted history);
* a block of ``>`` lines at the very end, with its attribution line if there is one.

What is kept: a forwarded message (everything after a "Forwarded message" marker is the
request itself), interleaved answers (quote, answer, quote, answer), the signature, and
the whole text whenever folding would leave nothing.
"""

from __future__ import annotations

import re

__all__ = ["split_quoted"]

_MAX_LINE = 1000  # longer lines are never separators, headers or attributions

_SEPARATOR = re.compile(
    r"^[ \t]*[-_=*]{2,}[ \t]*(?:"
    r"original[ -]message|original[ -]nachricht|originalnachricht|ursprüngliche nachricht"
    r"|message d'origine|message original|mesaj(?:ul)? original|mesaj initial"
    r"|исходное сообщение|оригинальное сообщение|исходное письмо"
    r"|вихідне повідомлення|оригінальне повідомлення|початкове повідомлення"
    r"|původní zpráva|oryginalna wiadomość|wiadomość oryginalna"
    r")[ \t]*[-_=*]{2,}[ \t]*$",
    re.IGNORECASE,
)
_FORWARD = re.compile(
    r"^[ \t]*(?:[-_=*]{2,}[ \t]*)?(?:"
    r"forwarded message|forwarded mail|begin forwarded message|weitergeleitete nachricht"
    r"|message transféré|début du message réexpédié|message réexpédié|mesaj redirecționat"
    r"|mesaj redirectionat|mesaj transmis|пересылаемое сообщение|пересланное сообщение"
    r"|переслане повідомлення|пересланий лист|přeposlaná zpráva|przekazana wiadomość"
    r")[ \t]*:?[ \t]*(?:[-_=*]{2,})?[ \t]*$",
    re.IGNORECASE,
)
_RULE = re.compile(r"^[ \t]*[-_]{8,}[ \t]*$")

# Outlook header blocks. Each keyword is followed by optional blanks and a colon, and
# may be wrapped in * (bold rendered as text).
_HEADER_KINDS = {
    "from": r"from|von|de|de la|от|від|od|från|fra|van",
    "sent": r"sent|date|gesendet|datum|envoyé|trimis|data|отправлено|дата|надіслано|"
    r"odesláno|wysłano|wysłane|skickat|sendt|verzonden",
    "to": r"to|an|à|a|către|catre|pentru|кому|komu|do|till|til|aan",
    "subject": r"subject|betreff|objet|subiect|тема|předmět|temat|ämne|emne|onderwerp",
    "cc": r"cc|kopie|копия|копія|kopia",
}
_HEADER_LINE = re.compile(
    r"^[ \t]*\*?(?:"
    + "|".join(f"(?P<{kind}>{words})" for kind, words in _HEADER_KINDS.items())
    + r")[ \t]*\*?[ \t]*:",
    re.IGNORECASE,
)
_FORWARD_SUBJECT = re.compile(
    r"^[ \t]*\*?[^:]{1,20}:\*?[ \t]*(?:\[[^\]]{0,80}\][ \t]*)?"
    r"(?:fwd?|fw|wg|tr|rv|enc|i|vs|doorst|пересл|пер|fwd)[ \t]*:",
    re.IGNORECASE,
)

# Attribution lines: a known opening word and a known ending (the strong forms), or only
# a known ending (the weak forms). Each test is one anchored match or one search over a
# bounded tail, so a line costs time linear in its (bounded) length.
_MAX_ATTRIBUTION = 400
_STRONG_FORMS = (
    (re.compile(r"[ \t]*on\b", re.I), re.compile(r"(?<!\w)wrote[ \t]*:$", re.I)),
    (re.compile(r"[ \t]*le\b", re.I), re.compile(r"(?<!\w)a[ \t]+écrit[ \t]*:$", re.I)),
    (re.compile(r"[ \t]*am\b", re.I), re.compile(r"(?<!\w)schrieb(?!\w)", re.I)),
    (re.compile(r"[ \t]*(?:în|in|pe)\b", re.I), re.compile(r"(?<!\w)a[ \t]+scris[ \t]*:$", re.I)),
)
_WEAK_ENDING = re.compile(
    r"(?<!\w)(?:wrote|a[ \t]+écrit|a[ \t]+scris|schrieb|написал|написала|написал\(а\)"
    r"|пишет|написав|написав\(ла\)|пише)[ \t]*:$",
    re.IGNORECASE,
)
_WEAK_SCHRIEB = re.compile(r"(?<!\w)schrieb(?!\w)[^:]{0,200}:$", re.IGNORECASE)
_DIGIT = re.compile(r"\d")


def _is_quoted(line: str) -> bool:
    return line.lstrip(" \t").startswith(">")


def _is_blank(line: str) -> bool:
    return not line.strip()


def _header_kind(line: str) -> str | None:
    if len(line) > _MAX_LINE:
        return None
    match = _HEADER_LINE.match(line)
    if not match:
        return None
    return match.lastgroup


def _header_block_at(lines: list[str], start: int) -> tuple[bool, int] | None:
    """If an Outlook header block starts at ``start`` return (is_forward, end)."""
    kinds: set[str] = set()
    forward = False
    index = start
    continuation = 0
    limit = min(len(lines), start + 14)
    while index < limit:
        line = lines[index]
        if _is_blank(line):
            break
        kind = _header_kind(line)
        if kind:
            if kind in kinds:  # the same header twice: not one block
                break
            kinds.add(kind)
            continuation = 0
            if kind == "subject" and _FORWARD_SUBJECT.match(line[:_MAX_LINE]):
                forward = True
        else:
            continuation += 1
            if continuation > 2 or not kinds:
                break
        index += 1
    if "from" in kinds and len(kinds & {"sent", "to", "subject"}) >= 2:
        return forward, index
    return None


def _attribution_at(lines: list[str], end: int) -> tuple[int, bool] | None:
    """Is there an attribution ending at line ``end``? Return (start line, strong)."""
    line = lines[end].strip()
    if not line.endswith(":") or len(line) > _MAX_ATTRIBUTION:
        return None
    candidates = [(end, line)]
    if end > 0:
        previous = lines[end - 1].strip()
        if previous and len(previous) + len(line) < _MAX_ATTRIBUTION:
            candidates.append((end - 1, previous + " " + line))
    for start, joined in candidates:
        for opening, ending in _STRONG_FORMS:
            if opening.match(joined) and ending.search(joined, max(len(joined) - 300, 0)):
                return start, True
    tail = max(len(line) - 40, 0)
    if _WEAK_ENDING.search(line, tail) or _WEAK_SCHRIEB.search(line, max(len(line) - 220, 0)):
        return end, False
    return None


def _next_content(lines: list[str], index: int, stop: int) -> int:
    while index < stop and _is_blank(lines[index]):
        index += 1
    return index


def split_quoted(text: str) -> tuple[str, str]:
    """Return ``(reply, quoted)``; ``quoted`` is "" when nothing was folded."""
    if not text:
        return "", ""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = normalised.split("\n")
    count = len(lines)

    # Nothing after a forward marker is folded: the forwarded mail is the request.
    stop = count
    for index, line in enumerate(lines):
        if len(line) <= _MAX_LINE and _FORWARD.match(line):
            stop = index
            break

    # Facts about the tail, computed once from the end: is there a quoted line at or
    # after i, and does an unquoted, non-blank line follow a quoted line after i?
    quoted_after = [False] * (count + 1)
    mixed_after = [False] * (count + 1)
    seen_unquoted = False
    for index in range(count - 1, -1, -1):
        line = lines[index]
        quoted_after[index] = quoted_after[index + 1]
        mixed_after[index] = mixed_after[index + 1]
        if _is_quoted(line):
            quoted_after[index] = True
            if seen_unquoted:
                mixed_after[index] = True
        elif not _is_blank(line):
            seen_unquoted = True

    cut = None
    for index in range(stop):
        line = lines[index]
        if len(line) > _MAX_LINE or _is_quoted(line):
            continue
        if _SEPARATOR.match(line):
            cut = index
            break
        if _header_kind(line) in ("from", "sent"):
            block = _header_block_at(lines, index)
            if block is not None:
                forward, _end = block
                if forward:
                    break  # a forward: keep it and everything after it
                cut = index
                if index > 0 and _RULE.match(lines[index - 1]):
                    cut = index - 1
                break
        attribution = _attribution_at(lines, index)
        if attribution is not None:
            start, strong = attribution
            following = _next_content(lines, index + 1, count)
            if following < count and _is_quoted(lines[following]):
                # Quoted history follows; fold it unless answers are interleaved.
                if not mixed_after[following]:
                    cut = start
                    break
            elif (
                strong
                and _DIGIT.search(" ".join(lines[start : index + 1]))
                and not quoted_after[following]
            ):
                cut = start
                break

    if cut is None:
        # A trailing block of quoted lines (blank lines allowed inside and after it).
        index = count
        while index > 0 and (_is_blank(lines[index - 1]) or _is_quoted(lines[index - 1])):
            index -= 1
        while index < count and _is_blank(lines[index]):
            index += 1
        if index < count and index < stop:
            cut = index
            before = index - 1
            while before >= 0 and _is_blank(lines[before]):
                before -= 1
            if before >= 0:
                attribution = _attribution_at(lines, before)
                if attribution is not None:
                    cut = attribution[0]

    if cut is None:
        return text, ""
    reply = "\n".join(lines[:cut]).rstrip()
    if not reply.strip():
        return text, ""
    quoted = "\n".join(lines[cut:]).strip("\n")
    return reply, quoted
