"""Parse inbound mail into plain data. Pure: no database, no Django.

``parse(raw)`` turns the bytes of one RFC 5322 message into a :class:`ParsedMail`. It
raises :class:`MailRejected` when a limit is exceeded or nothing can be made of the
input, and no other exception whatever the bytes are: service desks are where crafted
mail crashes or stalls parsers (CVE-2021-36093, CVE-2024-53907), so

* the size, the header block, the number of MIME containers (and lines times
  containers) are checked on the raw bytes before the stdlib parser sees them, and the
  parser is fed in chunks under a wall-clock budget (``Limits.max_seconds``);
* the parsed tree is then walked iteratively, counting parts, depth and header sizes,
  before the (depth-bounded) body/attachment walk;
* every regular expression here is free of nested quantifiers; address comments too
  deep for the stdlib address parser's recursion are stripped first; HTML goes through
  htmltext.prepare_html and nh3 (both linear) before any Python-level HTML parsing.

The parser is the stdlib ``email`` package with ``policy.compat32``: it keeps raw header
values (8-bit bytes as surrogates), which this module decodes itself, more tolerantly
than ``email.header.decode_header``: any charset with fallbacks (declared -> UTF-8 ->
charsets declared elsewhere in the message -> cp1251/cp1252/GB18030 heuristics), encoded
words split mid-character or run together, RFC 2231 parameters in any charset. Header
blocks whose folding lost its blanks, or that start with a banner line, are repaired.

Addresses: display names are decoded only after the address list is split, and
addr-specs are never RFC 2047-decoded (``=?utf-8?q?ceo=40customer.example?=@evil`` stays
as written), so an encoded-word cannot smuggle in an address.

Problems that do not stop parsing (a wrong charset, broken base64, a missing boundary)
are recorded in ``ParsedMail.problems`` as short English texts; callers translate.
"""

from __future__ import annotations

import binascii
import codecs
import hashlib
import re
import time
import unicodedata
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy as email_policy
from email.feedparser import BytesFeedParser
from email.generator import BytesGenerator
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from html import escape
from io import BytesIO

from .htmltext import html_to_text, sanitise_html
from .quoting import split_quoted

__all__ = [
    "Limits",
    "MailRejected",
    "ParsedAttachment",
    "ParsedMail",
    "content_hash",
    "decode_header_value",
    "extract_ticket_numbers",
    "iter_mbox",
    "parse",
]


# --------------------------------------------------------------------------- public types


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 25 * 1024 * 1024  # whole raw message
    max_parts: int = 100  # MIME parts in total
    max_depth: int = 10  # multipart nesting
    max_attachment_bytes: int = 10 * 1024 * 1024  # any single attachment (decoded)
    max_header_bytes: int = 256 * 1024
    max_text_chars: int = 2_000_000  # text kept after decoding (longer is truncated)
    # Wall-clock budget for the stdlib MIME parser, checked between 64 KiB chunks. The
    # other limits already bound its work; this is the safety net ("too_large").
    max_seconds: float = 10.0


REJECTION_CODES = (
    "too_large",
    "too_many_parts",
    "too_deep",
    "attachment_too_large",
    "headers_too_large",
    "unparseable",
)


class MailRejected(Exception):
    """The message is refused; ``code`` is one of :data:`REJECTION_CODES`."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass
class ParsedAttachment:
    filename: str  # decoded, never empty (generated when the mail names none)
    content_type: str  # lower-case, e.g. "image/png"
    data: bytes  # decoded payload
    content_id: str = ""  # without angle brackets
    inline: bool = False  # Content-Disposition inline, or referenced by cid: from the HTML
    referenced: bool = False  # referenced by cid: from the HTML body


@dataclass
class ParsedMail:
    """One parsed message. Every str field is "" (never None) when absent.

    May be empty on real mail: message_id, subject, from_address (no usable From, Sender
    or Reply-To; a problem is noted), from_name, reply_to, text (attachment-only mail),
    html (no HTML part), quoted_text. ``date`` may be None. ``reply_text`` is never empty
    when ``text`` is not. ``to``/``cc``/``in_reply_to``/``references`` may be empty lists.
    An address without a domain (``mailer-daemon``) is possible. Attachment filenames
    are never empty but may repeat.
    """

    message_id: str
    in_reply_to: list[str]
    references: list[str]
    subject: str
    from_address: str
    from_name: str
    reply_to: str
    to: list[str]
    cc: list[str]
    date: datetime | None
    text: str
    html: str
    reply_text: str
    quoted_text: str
    attachments: list[ParsedAttachment]
    auto_submitted: bool
    auto_reason: str
    is_bounce: bool
    bounced_recipients: list[str]
    bounce_reason: str
    aftercare_loop: str
    raw_size: int
    problems: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    # For bounces: the Message-ID of the returned original message, when the report
    # includes it (check it is one of ours before trusting bounced_recipients).
    bounced_message_id: str = ""


# --------------------------------------------------------------------------- charsets

_CHARSET_ALIASES = {
    # WHATWG-style supersets: what mailers label Latin-1 or GB2312 is usually the superset.
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
    "ansi_x3.4-1968": "utf-8",
    "iso-8859-9": "cp1254",
    "latin5": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "windows-874": "cp874",
    "gb2312": "gb18030",
    "iso-gb2312": "gb18030",
    "gb_2312-80": "gb18030",
    "csgb2312": "gb18030",
    "euc-cn": "gb18030",
    "x-euc-cn": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "ms936": "gb18030",
    "chinese": "gb18030",
    "big5": "cp950",
    "x-big5": "cp950",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "ks_c_5601-1989": "cp949",
    "euc-kr": "cp949",
    "korean": "cp949",
    "windows-949": "cp949",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "csshiftjis": "cp932",
    "windows-31j": "cp932",
    "iso-2022-jp": "iso2022_jp_ext",
    "csiso2022jp": "iso2022_jp_ext",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "x-mac-cyrillic": "mac-cyrillic",
    "x-mac-roman": "mac-roman",
    "unicode-1-1-utf-7": "utf-7",
    "x-unicode20utf8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
    "utf8": "utf-8",
    "cp-850": "cp850",
    "cp-1252": "cp1252",
    "cp-1251": "cp1251",
    "win-1251": "cp1251",
}
_ENCODING_FALLBACKS = {
    "cp1252": ("iso-8859-1",),
    "iso2022_jp_ext": ("iso2022_jp_2", "iso2022_jp"),
    "cp949": ("euc_kr",),
}
# Python codecs that are not charsets a mail may name.
_FORBIDDEN_CODECS = {
    "unicode_escape",
    "raw_unicode_escape",
    "idna",
    "punycode",
    "undefined",
    "mbcs",
    "oem",
}
_CHARSET_TOKEN = re.compile(r"[A-Za-z0-9._:()+-]{1,40}")
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")
_CYRILLIC_RANGE = re.compile(rb"[\xc0-\xff]")
_ASCII_LETTER = re.compile(rb"[A-Za-z]")


def _codec_for(charset: str | None) -> str | None:
    """Python codec name for a charset label, or None when unknown or unusable."""
    if not charset:
        return None
    label = charset.strip().strip("\"'").split("*", 1)[0].strip().lower()
    if not _CHARSET_TOKEN.fullmatch(label or "-"):
        return None
    label = _CHARSET_ALIASES.get(label, label)
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True) or (
        info.name.replace("-", "_") in _FORBIDDEN_CODECS
    ):
        return None
    return info.name


_CJK_TRAIL_RANGE = re.compile(rb"[\xa1-\xbf]")
_HIGH_RUN = re.compile(rb"[\x80-\xff]+")
_WORD = re.compile(rb"[A-Za-z\x80-\xff]{1,100}")


def _guess_8bit(data: bytes) -> str:
    """Best guess for undeclared 8-bit text, without a detector library.

    Unlabelled GB2312/GBK text (high bytes in pairs, many in 0xA1-0xBF, and it decodes)
    -> gb18030; more words made of bytes in 0xC0-0xFF than words mixing ASCII letters
    with high bytes -> cp1251; else cp1252.
    """
    sample = data[:65536]
    high = len(_HIGH_BYTE.findall(sample))
    paired = sum(len(run) for run in _HIGH_RUN.findall(sample) if len(run) % 2 == 0)
    if high and paired * 10 >= high * 9 and len(_CJK_TRAIL_RANGE.findall(sample)) * 5 >= high:
        try:
            data.decode("gb18030")
        except UnicodeDecodeError:
            pass
        else:
            return "gb18030"
    # Cyrillic in cp1251 makes whole words of high bytes (mostly 0xC0-0xFF); Latin-1
    # text has a few high bytes inside otherwise ASCII words.
    cyrillic_words = latin_words = 0
    for word in _WORD.findall(sample):
        if not _HIGH_BYTE.search(word):
            continue
        if _ASCII_LETTER.search(word):
            latin_words += 1
        elif len(word) > 1 and len(_CYRILLIC_RANGE.findall(word)) * 2 >= len(word):
            cyrillic_words += 1
    if cyrillic_words > latin_words:
        return "cp1251"
    return "cp1252"


_ISO2022_ESCAPE = re.compile(rb"\x1b(\$@|\$B|\$\(B|\$\(Q|\(B|\(J|\(I)")


def _decode_iso2022jp_lenient(data: bytes) -> str:
    """ISO-2022-JP with the vendor extensions (NEC row 13: ①, IBM kanji) of CP50220.

    JIS X 0208 pairs are mapped arithmetically to Shift_JIS and decoded as cp932, which
    has those extensions; Python's iso2022 codecs reject them.
    """
    out: list[str] = []
    mode = b"(B"
    position = 0
    for match in [*_ISO2022_ESCAPE.finditer(data), None]:
        end = match.start() if match else len(data)
        chunk = data[position:end]
        if chunk:
            if mode in (b"$@", b"$B", b"$(B", b"$(Q"):
                converted = bytearray()
                for index in range(0, len(chunk) - 1, 2):
                    j1, j2 = chunk[index], chunk[index + 1]
                    if not (0x21 <= j1 <= 0x7E and 0x21 <= j2 <= 0x7E):
                        converted.extend(b"?")
                        continue
                    s1 = ((j1 + 1) >> 1) + (0x70 if j1 <= 0x5E else 0xB0)
                    s2 = j2 + ((0x1F if j2 <= 0x5F else 0x20) if j1 & 1 else 0x7E)
                    converted.extend((s1, s2))
                out.append(bytes(converted).decode("cp932", "replace"))
            elif mode == b"(I":
                out.append(bytes(byte | 0x80 for byte in chunk).decode("cp932", "replace"))
            else:
                out.append(chunk.decode("cp932", "replace"))
        if match is None:
            break
        mode = match.group(1)
        position = match.end()
    return "".join(out)


def _decode_bytes(
    data: bytes,
    charset: str | None,
    problems: list[str] | None,
    hints: tuple[str, ...] = (),
) -> str:
    """Decode ``data`` labelled ``charset``; never raises.

    The declared charset (and its usual supersets) -> UTF-8 -> the hints (charsets
    declared elsewhere in the message) -> cp1251 or cp1252 by heuristic, with
    errors="replace" as the final step. A replacement is noted in ``problems``.
    """
    if not data:
        return ""
    codec = _codec_for(charset)
    family: tuple[str, ...] = ()
    if codec:
        family = (codec, *_ENCODING_FALLBACKS.get(codec, ()))
    elif b"\x1b$" in data or b"\x1b(" in data:
        family = ("iso2022_jp_ext", "iso2022_jp_2")  # unlabelled ISO-2022-JP
    if not family and not _HIGH_BYTE.search(data):
        return data.decode("ascii", "replace")
    candidates = [*family, "utf-8"]
    if "iso2022_jp_ext" in family:
        candidates = [*family, "iso2022-lenient"]
    tried: set[str] = set()
    for candidate in candidates:
        if candidate in tried:
            continue
        tried.add(candidate)
        if candidate == "iso2022-lenient":
            return _decode_iso2022jp_lenient(data)
        try:
            text = data.decode(candidate)
        except UnicodeDecodeError as error:
            if candidate == "utf-8" and _truncated_utf8(data, error):
                # Cut in the middle of the last character (a truncated part): still UTF-8.
                if problems is not None:
                    _note(problems, "incomplete UTF-8 sequence at the end replaced")
                return data.decode("utf-8", "replace")
            continue
        except Exception:  # noqa: BLE001, S112 - any codec failure: try the next one
            continue
        if charset and candidate not in family and problems is not None:
            _note(problems, f"charset {_shown(charset)!r} replaced by {candidate}")
        return text
    # Nothing declared decodes (or nothing is declared, and it is not UTF-8): detect.
    hinted = tuple(dict.fromkeys(c for c in (_codec_for(h) for h in hints) if c))
    detected = _detect_charset(data, hinted)
    if detected is not None:
        codec, text = detected
        if problems is not None:
            _note(problems, f"charset {_shown(charset) or 'none'!r} replaced by {codec}")
        return text
    guess = _guess_8bit(data)
    if problems is not None:
        _note(problems, f"charset {_shown(charset) or 'none'!r} replaced by {guess}")
    return data.decode(guess, "replace")


# Charsets undeclared 8-bit mail text is tried in, in order of preference on a tie.
_DETECT_CODECS = (
    "cp1252",
    "cp1251",
    "gb18030",
    "cp932",
    "cp949",
    "cp950",
    "cp1250",
)
_DETECT_SAMPLE = 4000  # characters scored per candidate
_CYRILLIC_CODECS = frozenset({"cp1251", "koi8_r", "koi8_u", "iso8859_5", "mac_cyrillic", "cp866"})
_LATIN_CODECS = frozenset(
    {"cp1252", "cp1250", "iso8859_2", "iso8859_15", "cp1254", "cp1257", "mac_roman"}
)
_TYPOGRAPHY = frozenset("«»“”„‘’‚–—…€°§©®™·•№ʼ\u00a0")
# For each multi-byte charset: the strict subset to re-encode in, and lead-byte ranges of
# its frequently used characters (level 1 hanzi / kanji, KS X 1001 Hangul).
_CJK_LEVELS = {
    "gb18030": ("gb2312", (0xB0, 0xD7), (0xD8, 0xF7), (0xA1, 0xA3)),
    "cp950": ("big5", (0xA4, 0xC6), (0xC9, 0xF9), (0xA1, 0xA1)),
    "cp932": ("shift_jis", (0x88, 0x98), (0x99, 0xEA), (0x81, 0x81)),
    "euc_jp": ("euc_jp", (0xB0, 0xCF), (0xD0, 0xF4), (0xA1, 0xA1)),
    "cp949": ("euc_kr", (0xB0, 0xC8), (0xCA, 0xFD), (0xA1, 0xA1)),
}


# The most frequent characters of Chinese (simplified) and syllables of Korean writing:
# GB2312's level-1 hanzi and KS X 1001's Hangul share their byte range, so which reading
# is real text is told by how much of it is everyday vocabulary.
_FREQUENT_HANZI = frozenset(
    "的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于着"
    "下自之年过发后作里用道行所然家种事成方多经么去法学如都同现当没动面起看定天分还进好小"
    "部其些主样理心她本前开但因只从想实日军者意无力它与长把机十民第公此已工使情明性知全三"
    "又关点正业外将两高间由问很最重并物手应战向头文体政美相见被利什二等产或新己制身果加西"
    "月话合回特代内信表化老给世位次度门任常先海通教儿原东声提立及比员解水名真论处走义各入"
    "几口认条平系气题活更别打变四总何电数安少报才结反受目太量再感建务做接必场件计管期市直"
    "资命金指许统区保至队形社便空决治展科司五基书非则听白界达光放强即像难且权思王象完设式"
    "色路记南品住告类求据程北边该交规万取格望觉术领共确传师观清今切院让识候带导争运改收根"
    "干造言联持组每济车亲极服快办议往元证近失准布始存未远单影具字备调深商算质团集百需价请"
    "技际约示复息究线官断精满支视消越器容照须增研写称企功包片查易早找装广显图号首费周较注"
    "语仅考选列响推势参希众构房半节投某案维划致律足态护验责营够章音跟志底站严例防供效续施"
    "留型料终答紧察段依批群项故按围客纪采举低友诉止细值钱网热助育属限职速否状率般创错承印"
    "试预谁送急伤素适省初险待述置财环排福获模充负停层略范室激策演简判担静既积余检差富协角"
    "占配修降阶审超免压银买执副帮航优著份背概块付换闻危核介讨良序升监临域括误减编测败温困"
    "封救贵缺移智席秘谢遇虑幸销端探录附吸礼额含顺输招补督材择授载健借禁园抓束练访软典盘扩"
    "稳替迎析透购替绿套贸毕库促延售络抱纯页折振彩抽援译距触课享讯描签仍您邮件票据账户密码"
    "登录系统订单发货退款客服问题报价合同附件截图打印麻烦谢谢请问"
)
_FREQUENT_HANGUL = frozenset(
    "이다에의는로하을가고지서한은기으년대사시를리도인스일정자어나게수아구부해과보요세니습있"
    "합안녕제주상전문화성드위용것장만여우학원소내와국동면신경계그들재적분비말터트께감립확바"
    "랍청오류처발송메파첨결품등록데때후중새모개선점검업무회입출력번호연락객센요청드려립니다"
    "감사합니다문의드립니다확인부탁드립니다견적서계산서송장결제오류로그인비밀번호변경요청건"
    "관련하여안내드리며회신바랍니다"
)


def _cjk_weight(char: str, codec: str) -> float:
    strict, common, rare, punctuation = _CJK_LEVELS[codec]
    code = ord(char)
    if codec == "gb18030" and char in _FREQUENT_HANZI:
        return 1.0
    if codec == "cp949" and char in _FREQUENT_HANGUL:
        return 1.0
    if codec in ("cp932", "euc_jp"):
        if 0x3041 <= code <= 0x30FF:
            return 1.0  # hiragana and katakana: Japanese text is full of them
        if 0xFF61 <= code <= 0xFF9F:
            return 0.2  # half-width katakana: rare today, common in misdecoded text
    try:
        encoded = char.encode(strict)
    except UnicodeEncodeError:
        return 0.05  # a vendor or extension character
    lead = encoded[0]
    if common[0] <= lead <= common[1]:
        # Level 1 of each charset; Chinese and Korean readings of one byte string both
        # land here, so the less frequent characters of those two weigh less.
        return {"gb18030": 0.6, "cp949": 0.5, "cp950": 0.8}.get(codec, 0.9)
    if punctuation[0] <= lead <= punctuation[1]:
        return 0.6
    if rare[0] <= lead <= rare[1]:
        return 0.25 if codec != "cp949" else 0.1  # hanja are rare in Korean text
    return 0.15


def _plausibility(text: str, codec: str) -> float:
    """How much ``text`` (``data`` decoded as ``codec``) looks like real writing, 0..1.

    Each non-ASCII character is weighed by how common it is in text written in that
    charset, per byte it takes: level-1 hanzi/kanji, kana and KS X 1001 Hangul score
    high, rare and extension characters low; letters of single-byte charsets score high
    unless their words mix scripts or case the way misdecoded bytes do.
    """
    total = score = 0.0
    text = text[:_DETECT_SAMPLE]
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if char < "\x80":
            index += 1
            continue
        if char.isalpha() and codec not in _CJK_LEVELS:
            end = index
            while end < length and text[end].isalpha():
                end += 1
            word = text[index:end]
            start = index
            while start > 0 and text[start - 1].isalpha():
                start -= 1
            ascii_letters = any(c < "\x80" for c in text[start:end])
            for position, letter in enumerate(word):
                if letter < "\x80":
                    continue
                before = word[position - 1] if position else text[index - 1 : index]
                weight = _letter_weight(letter, codec, ascii_letters)
                if letter.isupper() and before.islower():
                    weight = min(weight, 0.3)  # "GrьЯe": case flips inside a word
                total += 1
                score += weight
            index = end
            continue
        if codec in _CJK_LEVELS:
            size = len(char.encode(codec, "ignore")) or 1
            total += size
            score += _cjk_weight(char, codec) * size
        else:
            total += 1
            between_letters = (
                0 < index < length - 1 and text[index - 1].isalpha() and text[index + 1].isalpha()
            )
            if char in _TYPOGRAPHY and (char in "’ʼ" or not between_letters):
                score += 0.5  # "«word»", "a – b"; but "іш»щіж" is what CJK bytes make
            else:
                score += 0.05
        index += 1
    return score / total if total else 0.0


def _letter_weight(letter: str, codec: str, ascii_in_word: bool) -> float:
    name = unicodedata.name(letter, "")
    if codec in _CYRILLIC_CODECS:
        if not name.startswith("CYRILLIC"):
            return 0.05
        if ascii_in_word:
            return 0.3
        if "\u0410" <= letter <= "\u044f" or letter in "Ёё":
            return 1.0  # the Russian alphabet
        return 0.8 if letter in "ІіЇїЄєҐґЎў" else 0.2
    if codec in _LATIN_CODECS:
        if not name.startswith("LATIN") or not "\u00c0" <= letter <= "\u024f" or letter == "ƒ":
            return 0.05
        return 1.0 if ascii_in_word else 0.4
    return 0.5


def _normalised_codec(name: str) -> str | None:
    codec = _codec_for(name.replace("_", "-"))
    equivalent = {"big5": "cp950", "shift_jis": "cp932", "euc_kr": "cp949", "gbk": "gb18030"}
    return equivalent.get(codec or "", codec)


_DETECTOR_MIN_BYTES = 40


def _vote(data: bytes, order: list[str]) -> str | None:
    """charset-normalizer's choice among ``order`` (Python codec name), or None."""
    try:
        from charset_normalizer import from_bytes

        found = from_bytes(data[:16384], cp_isolation=order).best()
    except Exception:  # noqa: BLE001 - a detector failure only loses its vote
        return None
    return _normalised_codec(found.encoding) if found is not None else None


def _detect_charset(data: bytes, hinted: tuple[str, ...] = ()) -> tuple[str, str] | None:
    """(codec, text) for undeclared or wrongly declared 8-bit text, or None.

    charset-normalizer proposes; every candidate that decodes the bytes strictly (its
    proposals, charsets declared elsewhere in the message, common mail charsets) is
    scored by :func:`_plausibility`, which also decides short texts (a subject, a file
    name) where a statistical detector alone guesses wrong.
    """
    order = list(dict.fromkeys([*hinted, *_DETECT_CODECS]))
    best_guess = None
    # On a few bytes (a subject, a file name) the detector's statistics say little: it
    # only votes on longer text, and the plausibility score decides alone on short.
    if len(_HIGH_BYTE.findall(data[:4096])) >= _DETECTOR_MIN_BYTES:
        best_guess = _vote(data, order)
        if best_guess and best_guess not in order:
            order.append(best_guess)
    ranked = []
    for position, codec in enumerate(order):
        try:
            text = data.decode(codec)
        except Exception:  # noqa: BLE001, S112 - does not fit: next candidate
            continue
        score = _plausibility(text, codec)
        if codec in hinted:
            score += 0.1
        if codec == best_guess:
            score += 0.1
        ranked.append((score, -position, codec, text))
    if not ranked:
        return None
    _score, _position, codec, text = max(ranked)
    return codec, text


def _truncated_utf8(data: bytes, error: UnicodeDecodeError) -> bool:
    """Only the last character is cut, and the rest shows UTF-8 multi-byte text."""
    if error.start < len(data) - 3 or error.reason != "unexpected end of data":
        return False
    head = data[: error.start]
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return bool(_HIGH_BYTE.search(head))


def _shown(value: str | None) -> str:
    return (value or "").strip()[:40]


def _note(problems: list[str], message: str) -> None:
    if message not in problems and len(problems) < 50:
        problems.append(message)


_SURROGATE = re.compile("[\udc80-\udcff]")


def _fix_8bit(value: str, hints: tuple[str, ...] = (), problems: list[str] | None = None) -> str:
    """Header text from the parser keeps raw 8-bit bytes as surrogates: decode them."""
    if not _SURROGATE.search(value):
        return value
    data = value.encode("utf-8", "surrogateescape")
    return _decode_bytes(data, None, problems, hints)


# --------------------------------------------------------------------------- RFC 2047

_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,64})\?([bBqQ])\?([^?]*)\?=")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_NEWLINES = re.compile(r"[\r\n]+")


_NON_B64_BYTES = re.compile(rb"[^A-Za-z0-9+/=]")
_B64_RUN = re.compile(rb"[A-Za-z0-9+/]+")
_WHITESPACE_BYTES = re.compile(rb"\s")


def _base64_tolerant(raw: bytes) -> tuple[bytes, bool]:
    """Decode base64 ignoring junk characters, bad padding and concatenated blocks.

    Returns (data, clean); clean is False when something had to be ignored.
    """
    cleaned = _NON_B64_BYTES.sub(b"", raw)
    clean = len(cleaned) == len(_WHITESPACE_BYTES.sub(b"", raw))
    out = bytearray()
    for run in _B64_RUN.finditer(cleaned):
        piece = run.group(0)
        if len(piece) % 4 == 1:
            piece = piece[:-1]
            clean = False
        elif len(piece) % 4 and run.end() == len(cleaned):
            clean = False
        piece += b"=" * (-len(piece) % 4)
        try:
            out += binascii.a2b_base64(piece)
        except (binascii.Error, ValueError):
            clean = False
    return bytes(out), clean


def _b_decode(text: str) -> bytes:
    return _base64_tolerant(text.encode("ascii", "ignore"))[0]


def _q_decode(text: str) -> bytes:
    try:
        return binascii.a2b_qp(text.encode("utf-8", "surrogateescape"), header=True)
    except (binascii.Error, ValueError):
        return text.encode("utf-8", "surrogateescape")


def _unfold(value: str) -> str:
    return _NEWLINES.sub(" ", _FOLD.sub("", value))


def decode_header_value(
    value: str | None, hints: tuple[str, ...] = (), problems: list[str] | None = None
) -> str:
    """Decode RFC 2047 encoded-words and raw 8-bit text in a header value; never raises.

    Tolerates encoded-words that are not separated by blanks, multi-byte characters split
    across two words, blanks inside Q words and undeclared 8-bit text.
    """
    if not value:
        return ""
    if not isinstance(value, str):
        value = str(value)
    value = _unfold(value)
    if "=?" not in value:
        return _fix_8bit(value, hints, problems)
    out: list[str] = []
    pending = bytearray()
    pending_charset: str | None = None
    position = 0
    after_word = False

    def flush() -> None:
        nonlocal pending, pending_charset
        if pending_charset is not None:
            out.append(_decode_bytes(bytes(pending), pending_charset, problems, hints))
        pending = bytearray()
        pending_charset = None

    for match in _ENCODED_WORD.finditer(value):
        between = value[position : match.start()]
        if between and not (after_word and not between.strip()):
            flush()
            out.append(_fix_8bit(between, hints, problems))
        charset, encoding, text = match.groups()
        charset = charset.split("*", 1)[0].lower()
        data = _b_decode(text) if encoding in "bB" else _q_decode(text)
        if pending_charset is not None and charset != pending_charset:
            flush()
        pending_charset = charset
        pending.extend(data)
        after_word = True
        position = match.end()
    flush()
    out.append(_fix_8bit(value[position:], hints, problems))
    return "".join(out)


def _collapse(value: str) -> str:
    return " ".join(value.split())


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _clean_text(value: str) -> str:
    return _CONTROL.sub("", value)


# --------------------------------------------------------------------------- headers


def _raw_header(msg: Message, name: str) -> str | None:
    """First raw value of header ``name`` (8-bit kept as surrogates), or None."""
    wanted = name.lower()
    try:
        for key, value in msg.raw_items():
            if isinstance(key, str) and key.lower() == wanted:
                return value if isinstance(value, str) else str(value)
    except Exception:  # noqa: BLE001 - a broken header list is as good as none
        return None
    return None


def _raw_headers(msg: Message, name: str) -> list[str]:
    wanted = name.lower()
    values = []
    try:
        for key, value in msg.raw_items():
            if isinstance(key, str) and key.lower() == wanted:
                values.append(value if isinstance(value, str) else str(value))
    except Exception:  # noqa: BLE001
        return values
    return values


def _header_size(msg: Message) -> int:
    try:
        return sum(len(key) + len(value) + 4 for key, value in msg.raw_items())
    except Exception:  # noqa: BLE001
        return 0


_EMAILISH = re.compile(r"[^\s@<>()\[\],;:\"]{1,200}@[^\s@<>()\[\],;:\"]{1,250}")
_ADDRESS_HEADER_LIMIT = 64 * 1024


def _parse_addresses(
    raw: str | None, hints: tuple[str, ...], problems: list[str]
) -> list[tuple[str, str]]:
    """(display name, lower-case address) pairs; display names decoded after parsing.

    RFC 2047 is decoded only in display names and only after the address list has been
    split, so an encoded-word can never smuggle an address (``=?utf-8?q?a=40b?=@c``) or
    a separator into the result; addr-specs are left exactly as written.
    """
    if not raw:
        return []
    value = _unfold(raw)
    if len(value) > _ADDRESS_HEADER_LIMIT:
        _note(problems, "address header truncated")
        value = value[:_ADDRESS_HEADER_LIMIT]
    value = _strip_deep_comments(_protect_encoded_words(_fix_8bit(value, hints, problems)))
    try:
        pairs = getaddresses([value])
    except Exception:  # noqa: BLE001 - fall back to anything that looks like an address
        pairs = [("", found) for found in _EMAILISH.findall(value)]
    result = []
    for name, address in pairs:
        address = _clean_text(address or "").strip().strip("<>").strip()
        name = _collapse(_clean_text(decode_header_value(name or "", hints, problems)))
        if not address:
            if name and _EMAILISH.fullmatch(name):
                address, name = name, ""
            else:
                continue
        elif "@" not in address and _EMAILISH.fullmatch(name or ""):
            # "Name (user@example.com)": the comment holds the address.
            address, name = name, address
        if any(ch.isspace() for ch in address) and not address.startswith('"'):
            continue
        result.append((name, address.lower()))
    return result


_ADDR_SPEC = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9.-]{1,253}")
_DOMAIN_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def _recover_address(
    raw_values: list[str], hints: tuple[str, ...], problems: list[str]
) -> tuple[str, str]:
    """(name, address) from a From header the address parser could not read.

    Fax and scanner gateways write ``From: Name addr@example.com`` (no angle brackets).
    When the raw header holds exactly one addr-spec, outside any encoded-word, it is
    taken and the rest becomes the display name; otherwise nothing is guessed.
    """
    found: list[tuple[str, str]] = []
    for raw in raw_values:
        value = _fix_8bit(_unfold(raw)[:_ADDRESS_HEADER_LIMIT], hints)
        plain = _ENCODED_WORD.sub(" ", value)
        for match in _ADDR_SPEC.finditer(plain):
            address = match.group(0).rstrip(".-").lower()
            local, _at, domain = address.rpartition("@")
            labels = domain.split(".")
            if (
                not local
                or local.startswith(".")
                or len(labels) < 2
                or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels)
                or not labels[-1].isalpha()
            ):
                continue
            rest = (plain[: match.start()] + " " + plain[match.end() :]).strip(" \t<>\"'()[],;:")
            found.append((rest, address))
    if len({address for _name, address in found}) != 1:
        return "", ""
    name, address = found[0]
    _note(problems, "malformed From header; address recovered")
    name = _collapse(_clean_text(decode_header_value(name, hints, problems)))
    return name[:255], address


_SPECIALS = set(',;<>@:"()[]\\')


def _protect_encoded_words(value: str) -> str:
    """Quote unquoted encoded-words whose text holds specials (``=?...?Q?Doe,=20J?=``).

    Mailers put commas into encoded display names; without quotes the address parser
    would split the name in two. Quoting keeps the word one phrase token; it is still
    decoded only after parsing, and only as a display name.
    """
    if "=?" not in value:
        return value
    out: list[str] = []
    position = 0
    quoted = False
    for match in _ENCODED_WORD.finditer(value):
        between = value[position : match.start()]
        escaped = False
        for char in between:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = not quoted
        out.append(between)
        word = match.group(0)
        if not quoted and _SPECIALS.intersection(match.group(3)):
            word = '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
        out.append(word)
        position = match.end()
    out.append(value[position:])
    return "".join(out)


_MAX_COMMENT_DEPTH = 5


def _strip_deep_comments(value: str) -> str:
    """Remove (comments) when they nest deeper than the address parser should recurse.

    The stdlib address parser recurses once per nesting level of "(": thousands of them
    would exhaust the stack. Quoted strings are respected; the pass is linear.
    """
    if value.count("(") <= _MAX_COMMENT_DEPTH:
        return value
    depth = deepest = 0
    quoted = escaped = False
    for char in value:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"' and not depth:
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif not quoted and char == ")" and depth:
            depth -= 1
    if deepest <= _MAX_COMMENT_DEPTH:
        return value
    out: list[str] = []
    depth = 0
    quoted = escaped = False
    for char in value:
        if escaped:
            escaped = False
            if not depth:
                out.append(char)
            continue
        if char == "\\":
            escaped = True
        elif char == '"' and not depth:
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
            continue
        elif not quoted and char == ")" and depth:
            depth -= 1
            continue
        if not depth:
            out.append(char)
    return "".join(out)


_MSGID = re.compile(r"<([^<>\s]{1,900})>")


def _parse_msgids(raw: str | None) -> list[str]:
    if not raw:
        return []
    value = _fix_8bit(_unfold(raw))
    found = _MSGID.findall(value)
    if not found:
        found = [token.strip("<>,;") for token in value.split() if "@" in token]
    result: list[str] = []
    seen = set()
    for item in found:
        item = item.strip()
        if item and item not in seen:
            seen.add(item)
            result.append(item)
    return result


_DATE_PREFIX = re.compile(
    r"^[^\n]{0,80}?\d{1,2}:\d{2}(?::\d{2})?(?:[ \t]{0,5}(?:[+-]\d{4}|[A-Za-z]{1,5}))?"
)


def _parse_date(raw: str | None) -> datetime | None:
    if not raw:
        return None
    value = _collapse(_fix_8bit(_unfold(raw)))[:200]
    candidates = [value]
    match = _DATE_PREFIX.match(value)
    if match and match.group(0) != value:
        # Read up to the time and zone first: "... +0200Received: ..." (a run-on header)
        # would otherwise parse with its zone lost.
        candidates.insert(0, match.group(0))
    for candidate in candidates:
        try:
            parsed = parsedate_to_datetime(candidate)
        except Exception:  # noqa: BLE001, S112 - unparseable dates are simply absent
            continue
        if parsed is None:
            continue
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed
    return None


# --------------------------------------------------------------------------- pre-checks

_HEADER_FIELD = re.compile(rb"[!-9;-~]{1,200}[ \t]*:")
_BOUNDARY_PARAM = re.compile(rb"boundary[ \t]*\*?[0-9]*\*?[ \t]*=", re.IGNORECASE)
_MESSAGE_TYPE = re.compile(rb"content-type[ \t]*:[ \t]*message/", re.IGNORECASE)


def _header_block_length(raw: bytes, limit: int) -> int:
    """Length of the top header block, stopping once ``limit`` is passed."""
    position = 0
    length = len(raw)
    first = True
    while position < length:
        end = raw.find(b"\n", position)
        end = length if end < 0 else end + 1
        line = raw[position:end]
        if not line.strip():
            return position
        if not (
            line[:1] in (b" ", b"\t")
            or _HEADER_FIELD.match(line)
            or (first and line.startswith(b"From "))
        ):
            return position
        first = False
        position = end
        if position > limit:
            return position
    return position


_MAX_LINE_CHECKS = 100_000_000


def _precheck(raw: bytes, limits: Limits) -> None:
    if len(raw) > limits.max_bytes:
        raise MailRejected("too_large", f"{len(raw)} bytes, limit {limits.max_bytes}")
    if _header_block_length(raw, limits.max_header_bytes) > limits.max_header_bytes:
        raise MailRejected("headers_too_large", f"limit {limits.max_header_bytes} bytes")
    # The stdlib parser checks every line against every open boundary and recurses into
    # message/* parts, so the number of containers bounds its work: count them first.
    containers = 0
    for pattern in (_BOUNDARY_PARAM, _MESSAGE_TYPE):
        for _match in pattern.finditer(raw):
            containers += 1
            if containers > limits.max_parts:
                raise MailRejected("too_many_parts", f"more than {limits.max_parts} parts")
    # Each line is compared with every open boundary: millions of empty lines inside
    # nested containers would take the parser minutes. Real mail stays far below this.
    if containers and raw.count(b"\n") * containers > _MAX_LINE_CHECKS:
        raise MailRejected("too_large", "too many lines for its MIME structure")


_IMPORTANT_FIELD = re.compile(
    rb"(?:from|to|subject|date|message-id|content-type|mime-version)[ \t]*:", re.IGNORECASE
)


_FOLDED_PIECE = re.compile(rb"[ \t]*(?:[A-Za-z0-9*_-]{1,40}[ \t]*=|[A-Za-z0-9+/=._-]{16,}\r?$)")


def _repair_header_block(raw: bytes, limit: int) -> tuple[bytes, bool]:
    """Mend a header block whose folding lost its leading blanks, or that starts with junk.

    Some gateways drop the whitespace of folded lines (a base64 token or "boundary=..."
    alone on a line), or put a banner line above the headers. The stdlib parser then
    ends the headers there and From, Subject and the MIME structure are lost. Inside
    the block up to the first blank line, a stray line followed later by real header
    fields (From, Subject, Content-Type...), or one that looks like a folded piece (a
    ``name=value`` parameter, a long token without blanks), becomes a continuation line;
    up to three stray lines at the very top are dropped. Anything else is left alone.
    """
    end = raw.find(b"\n\n", 0, limit)
    end_crlf = raw.find(b"\r\n\r\n", 0, limit)
    candidates = [index for index in (end, end_crlf) if index >= 0]
    if not candidates:
        return raw, False
    block_end = min(candidates)
    lines = raw[:block_end].split(b"\n")
    kinds = []
    for number, line in enumerate(lines):
        if number == 0 and line.startswith(b"From "):
            kinds.append("envelope")
        elif line[:1] in (b" ", b"\t"):
            kinds.append("continuation")
        elif _HEADER_FIELD.match(line):
            kinds.append("important" if _IMPORTANT_FIELD.match(line) else "field")
        else:
            kinds.append("junk")
    if "junk" not in kinds:
        return raw, False
    # Only junk that has an important field after it is mended.
    important_after = [False] * (len(kinds) + 1)
    for index in range(len(kinds) - 1, -1, -1):
        important_after[index] = important_after[index + 1] or kinds[index] == "important"
    out: list[bytes] = []
    seen_field = False
    leading_junk = 0
    for index, (line, kind) in enumerate(zip(lines, kinds, strict=True)):
        if kind == "junk":
            if not important_after[index] and not _FOLDED_PIECE.match(line):
                return raw, False
            if not seen_field:
                leading_junk += 1
                if leading_junk > 3:
                    return raw, False
                continue
            out.append(b" " + line)
            continue
        if kind in ("field", "important"):
            seen_field = True
        out.append(line)
    return b"\n".join(out) + raw[block_end:], True


_FEED_CHUNK = 64 * 1024


def _feed_parser(raw: bytes, limits: Limits) -> Message:
    """The stdlib parser fed in chunks, so its running time can be checked as it goes."""
    parser = BytesFeedParser(policy=email_policy.compat32)
    deadline = time.monotonic() + limits.max_seconds
    for offset in range(0, len(raw), _FEED_CHUNK):
        parser.feed(raw[offset : offset + _FEED_CHUNK])
        if time.monotonic() > deadline:
            raise MailRejected("too_large", f"parsing took longer than {limits.max_seconds} s")
    return parser.close()


def _walk_check(msg: Message, limits: Limits) -> None:
    """Iterative walk over the whole tree: count parts, depth and header sizes."""
    stack: list[tuple[Message, int]] = [(msg, 0)]
    count = 0
    while stack:
        part, depth = stack.pop()
        count += 1
        if count > limits.max_parts:
            raise MailRejected("too_many_parts", f"more than {limits.max_parts} parts")
        if depth > limits.max_depth:
            raise MailRejected("too_deep", f"nesting deeper than {limits.max_depth}")
        if _header_size(part) > limits.max_header_bytes:
            raise MailRejected("headers_too_large", f"limit {limits.max_header_bytes} bytes")
        if _content_type(part) == "message/delivery-status":
            continue  # its "parts" are header blocks, one per recipient
        payload = part.get_payload()
        if isinstance(payload, list):
            for child in payload:
                if isinstance(child, Message):
                    stack.append((child, depth + 1))


# --------------------------------------------------------------------------- MIME helpers


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type().lower()
    except Exception:  # noqa: BLE001
        return "text/plain"


def _param(
    part: Message,
    name: str,
    header: str = "content-type",
    hints: tuple[str, ...] = (),
    problems: list[str] | None = None,
):
    """A MIME parameter read from the raw header, so undeclared 8-bit text survives.

    Returns a str, a (charset, language, value) tuple for RFC 2231 values, or None.
    """
    raw = _raw_header(part, header)
    if raw is None:
        return None
    try:
        holder = Message()
        holder[header] = _fix_8bit(_unfold(raw), hints, problems)
        return holder.get_param(name, header=header)
    except Exception:  # noqa: BLE001
        return None


def _disposition(part: Message) -> str:
    raw = _raw_header(part, "content-disposition")
    if not raw:
        return ""
    return _unfold(raw).split(";", 1)[0].strip().lower()


def _param_text(value, hints: tuple[str, ...], problems: list[str]) -> str:
    """Decode a MIME parameter value: RFC 2231 (any charset), RFC 2047, raw 8-bit."""
    if value is None:
        return ""
    if isinstance(value, tuple) and len(value) == 3:
        charset, _language, text = value
        text = text if isinstance(text, str) else str(text)
        try:
            data = text.encode("latin-1")
        except UnicodeEncodeError:
            data = text.encode("utf-8", "surrogateescape")
        result = _decode_bytes(data, charset or "utf-8", problems, hints)
    else:
        result = value if isinstance(value, str) else str(value)
        result = result.strip().strip('"')
    return decode_header_value(result, hints, problems)


_UNSAFE_FILENAME = re.compile(r'[\x00-\x1f\x7f"<>]')


def _safe_filename(name: str) -> str:
    """Basename only, no control characters or markup, at most 200 characters."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_FILENAME.sub("_", _NEWLINES.sub(" ", name).replace("\t", " ")).strip()
    if not name.strip("."):
        return ""
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:190] + dot + ext) if dot and len(ext) < 10 else name[:200]
    return name


_EXTENSIONS = {
    "text/plain": ".txt",
    "text/html": ".html",
    "text/csv": ".csv",
    "text/calendar": ".ics",
    "text/vcard": ".vcf",
    "text/x-vcard": ".vcf",
    "text/rfc822-headers": ".txt",
    "message/rfc822": ".eml",
    "message/global": ".eml",
    "message/delivery-status": ".txt",
    "message/disposition-notification": ".txt",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/jpg": ".jpg",
    "image/pjpeg": ".jpg",
    "image/gif": ".gif",
    "image/bmp": ".bmp",
    "image/webp": ".webp",
    "image/tiff": ".tif",
    "image/svg+xml": ".svg",
    "video/quicktime": ".mov",
    "video/mp4": ".mp4",
    "audio/mpeg": ".mp3",
    "audio/wav": ".wav",
    "application/pdf": ".pdf",
    "application/zip": ".zip",
    "application/json": ".json",
    "application/xml": ".xml",
    "application/msword": ".doc",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/pgp-signature": ".asc",
    "application/pgp-encrypted": ".asc",
    "application/pkcs7-signature": ".p7s",
    "application/x-pkcs7-signature": ".p7s",
    "application/pkcs7-mime": ".p7m",
    "application/x-pkcs7-mime": ".p7m",
}
_FIXED_NAMES = {
    "application/ms-tnef": "winmail.dat",
    "application/vnd.ms-tnef": "winmail.dat",
    "message/delivery-status": "delivery-status.txt",
    "message/disposition-notification": "disposition-notification.txt",
    "text/rfc822-headers": "message-headers.txt",
    "application/pgp-signature": "signature.asc",
    "application/pkcs7-signature": "smime.p7s",
    "application/x-pkcs7-signature": "smime.p7s",
}
_CID_FILENAME = re.compile(r"[\w .()+-]{1,150}\.[A-Za-z][A-Za-z0-9]{0,4}")


# --------------------------------------------------------------------------- the walker


@dataclass
class _Segment:
    plain: str | None = None
    html: str | None = None


_BODY_TYPES = ("text/plain", "text/html")
_CID_REFERENCE = re.compile(r"cid:([^\s\"'<>)]{1,500})", re.IGNORECASE)


class _Walker:
    def __init__(self, limits: Limits, problems: list[str], hints: tuple[str, ...]):
        self.limits = limits
        self.problems = problems
        self.hints = hints
        self.attachments: list[ParsedAttachment] = []
        self.generated: dict[str, int] = {}
        self.is_report = False
        self.report_type = ""
        self.dsn_recipients: list[str] = []
        self.dsn_reasons: list[str] = []
        self.dsn_actions: list[str] = []

    # ---- payloads

    def payload_bytes(self, part: Message) -> bytes:
        """The decoded payload of a leaf part; broken encodings are tolerated."""
        # The stored payload, not get_payload(): for 8-bit text that one already decodes
        # with the declared charset (errors replaced), and the raw bytes would be lost.
        payload = getattr(part, "_payload", None)
        if payload is None:
            payload = part.get_payload()
        if isinstance(payload, str):
            raw = payload.encode("utf-8", "surrogateescape")
        elif isinstance(payload, bytes):
            raw = payload
        else:
            return b""
        encoding = _collapse(_unfold(_raw_header(part, "content-transfer-encoding") or ""))
        encoding = encoding.lower()
        if encoding == "base64":
            data, clean = _base64_tolerant(raw)
            if not clean:
                _note(self.problems, "broken base64 tolerated")
            return data
        if encoding == "quoted-printable":
            try:
                return binascii.a2b_qp(raw)
            except (binascii.Error, ValueError):
                _note(self.problems, "broken quoted-printable tolerated")
                return raw
        if encoding in ("x-uuencode", "uuencode", "uue", "x-uue"):
            try:
                data = part.get_payload(decode=True)
            except Exception:  # noqa: BLE001 - keep the encoded text
                data = None
            return data if isinstance(data, bytes) else raw
        return raw

    def part_text(self, part: Message) -> str:
        data = self.payload_bytes(part)
        charset = _param(part, "charset")
        if isinstance(charset, tuple):
            charset = charset[2] if len(charset) == 3 else None
        text = _decode_bytes(data, charset if isinstance(charset, str) else None, self.problems)
        text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
        if len(text) > self.limits.max_text_chars:
            text = text[: self.limits.max_text_chars]
            _note(self.problems, f"text truncated to {self.limits.max_text_chars} characters")
        return text

    # ---- attachments

    def filename(self, part: Message, ctype: str, data_name_hint: str = "") -> str:
        for header, name in (("content-disposition", "filename"), ("content-type", "name")):
            value = _param(part, name, header, self.hints, self.problems)
            if value is None:
                continue
            decoded = _safe_filename(_param_text(value, self.hints, self.problems))
            if decoded:
                return decoded
        if data_name_hint:
            hinted = _safe_filename(data_name_hint)
            if hinted:
                return hinted
        content_id = self.content_id(part)
        if content_id:
            local = content_id.split("@", 1)[0]
            if _CID_FILENAME.fullmatch(local):
                return _safe_filename(local)
        if ctype in _FIXED_NAMES:
            return _FIXED_NAMES[ctype]
        major = ctype.split("/", 1)[0]
        prefix = major if major in ("image", "video", "audio") else "attachment"
        if ctype in ("message/rfc822", "message/global"):
            prefix = "message"
        self.generated[prefix] = self.generated.get(prefix, 0) + 1
        return f"{prefix}-{self.generated[prefix]}{_EXTENSIONS.get(ctype, '.bin')}"

    def content_id(self, part: Message) -> str:
        raw = _raw_header(part, "content-id")
        if not raw:
            return ""
        value = _collapse(_fix_8bit(_unfold(raw))).strip()
        if value.startswith("<"):
            value = value[1:]
            value = value.split(">", 1)[0]
        return value.strip()[:250]

    def add_attachment(self, part: Message, ctype: str, data: bytes, name_hint: str = ""):
        if len(data) > self.limits.max_attachment_bytes:
            raise MailRejected(
                "attachment_too_large",
                f"{len(data)} bytes, limit {self.limits.max_attachment_bytes}",
            )
        self.attachments.append(
            ParsedAttachment(
                filename=self.filename(part, ctype, name_hint),
                content_type=ctype,
                data=data,
                content_id=self.content_id(part),
                inline=_disposition(part) == "inline",
            )
        )

    def attach_message(self, part: Message, ctype: str) -> None:
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        data = b""
        subject = ""
        if isinstance(inner, Message):
            data = _flatten(inner)
            subject = _collapse(
                decode_header_value(_raw_header(inner, "subject"), self.hints, self.problems)
            )
        elif isinstance(payload, str):
            data = payload.encode("utf-8", "surrogateescape")
        else:
            data = self.payload_bytes(part)
        hint = ""
        if (
            subject
            and not _param(part, "name")
            and not _param(part, "filename", "content-disposition")
        ):
            hint = subject.replace("/", "_").replace("\\", "_")[:150] + ".eml"
        self.add_attachment(part, ctype, data, hint)

    # ---- delivery status

    def read_delivery_status(self, part: Message) -> bytes:
        payload = part.get_payload()
        blocks: list[Message] = []
        text = ""
        if isinstance(payload, list):
            blocks = [block for block in payload if isinstance(block, Message)]
            pieces = []
            for block in blocks:
                pieces.append(
                    "".join(f"{key}: {_unfold(value)}\n" for key, value in block.raw_items())
                )
            text = "\n".join(pieces)
        else:
            text = self.part_text(part)
            blocks = _blocks_from_text(text)
        for block in (blocks[1:] if len(blocks) > 1 else blocks)[:_MAX_DSN_RECIPIENTS]:
            recipient = ""
            for header in ("final-recipient", "original-recipient"):
                value = _raw_header(block, header)
                if value:
                    recipient = _fix_8bit(_unfold(value)).split(";", 1)[-1].strip().strip("<>")
                    if recipient:
                        break
            action = _collapse(_raw_header(block, "action") or "").lower()
            status = _collapse(_raw_header(block, "status") or "")
            diagnostic = _collapse(_fix_8bit(_unfold(_raw_header(block, "diagnostic-code") or "")))
            if not recipient:
                continue
            self.dsn_actions.append(action)
            if action in ("", "failed"):
                if recipient.lower() not in self.dsn_recipients:
                    self.dsn_recipients.append(recipient.lower())
                reason = " ".join(filter(None, (status, diagnostic)))
                if reason:
                    self.dsn_reasons.append(reason)
        return text.encode("utf-8", "surrogateescape")

    # ---- structure

    def visit(self, part: Message, top: bool = False) -> list[_Segment]:
        ctype = _content_type(part)
        payload = part.get_payload()
        major, _, minor = ctype.partition("/")
        if major == "multipart":
            if not isinstance(payload, list):
                # A multipart without any part (no start boundary): show what is there.
                _note(self.problems, "multipart without parts read as text")
                text = self.part_text(part)
                return [_Segment(plain=text)] if text.strip() else []
            children = [child for child in payload if isinstance(child, Message)]
            if minor == "alternative":
                return self.visit_alternative(children)
            if minor == "related":
                return self.visit_related(part, children)
            if minor == "signed":
                segments = self.visit(children[0]) if children else []
                for child in children[1:]:
                    self.visit_as_attachment(child)
                return segments
            if minor == "encrypted":
                for child in children:
                    self.visit_as_attachment(child)
                return []
            if minor == "report":
                self.is_report = True
                report_type = _param(part, "report-type")
                if isinstance(report_type, str):
                    self.report_type = report_type.strip().lower()
            segments: list[_Segment] = []
            for child in children:
                segments.extend(self.visit(child))
            return segments
        if ctype in ("message/rfc822", "message/global") or (
            major == "message" and isinstance(payload, list) and ctype != "message/delivery-status"
        ):
            self.attach_message(part, ctype)
            return []
        if ctype == "message/delivery-status":
            data = self.read_delivery_status(part)
            self.add_attachment(part, ctype, data)
            return []
        if ctype in _BODY_TYPES and self.is_body(part, top):
            text = self.part_text(part)
            if ctype == "text/plain":
                return [_Segment(plain=text)]
            return [_Segment(html=text)]
        self.visit_as_attachment(part)
        return []

    def is_body(self, part: Message, top: bool) -> bool:
        """Text is body unless it is marked as an attachment (or is named, unmarked)."""
        disposition = _disposition(part)
        if disposition == "attachment":
            return False
        if top or disposition == "inline":
            return True
        named = _param(part, "filename", "content-disposition") or _param(part, "name")
        return not named

    def visit_as_attachment(self, part: Message) -> None:
        ctype = _content_type(part)
        if part.is_multipart() or (
            ctype.startswith("message/") and isinstance(part.get_payload(), list)
        ):
            if ctype.startswith("multipart/"):
                # e.g. the inside of multipart/encrypted: keep every leaf
                for child in part.get_payload():
                    if isinstance(child, Message):
                        self.visit_as_attachment(child)
                return
            self.attach_message(part, ctype)
            return
        self.add_attachment(part, ctype, self.payload_bytes(part))

    def visit_alternative(self, children: list[Message]) -> list[_Segment]:
        plain: str | None = None
        html_segments: list[_Segment] | None = None
        other: list[_Segment] | None = None
        for child in children:
            ctype = _content_type(child)
            segments = self.visit(child)
            if not segments:
                continue
            if ctype == "text/plain":
                text = segments[0].plain or ""
                if plain is None or (not plain.strip() and text.strip()):
                    plain = text
            elif any(segment.html is not None for segment in segments):
                html_segments = segments  # the last (richest) HTML alternative wins
            elif other is None:
                other = segments
        if html_segments is None and plain is None:
            return other or []
        html = None
        if html_segments is not None:
            html = "".join(
                segment.html if segment.html is not None else _plain_to_html(segment.plain or "")
                for segment in html_segments
            )
        if plain is not None and not plain.strip() and html is not None:
            plain = None  # an empty text alternative next to real HTML
        if plain is None and html_segments is not None:
            plain_parts = [segment.plain for segment in html_segments if segment.plain is not None]
            if plain_parts and len(plain_parts) == len(html_segments):
                plain = "\n\n".join(plain_parts)
        return [_Segment(plain=plain, html=html)]

    def visit_related(self, part: Message, children: list[Message]) -> list[_Segment]:
        if not children:
            return []
        root_index = 0
        start = _param(part, "start")
        if isinstance(start, str) and start.strip():
            wanted = start.strip().strip("<>")
            for index, child in enumerate(children):
                if self.content_id(child) == wanted:
                    root_index = index
                    break
        segments = self.visit(children[root_index])
        for index, child in enumerate(children):
            if index != root_index:
                self.visit_as_attachment(child)
        return segments


def _plain_to_html(text: str) -> str:
    return "<div>" + escape(text).replace("\n", "<br>\n") + "</div>"


def _flatten(msg: Message) -> bytes:
    buffer = BytesIO()
    try:
        BytesGenerator(buffer, mangle_from_=False, maxheaderlen=0).flatten(msg)
        return buffer.getvalue()
    except Exception:  # noqa: BLE001, S110 - flattening odd structures may fail
        pass
    try:
        return msg.as_string().encode("utf-8", "surrogateescape")
    except Exception:  # noqa: BLE001
        return b""


_MAX_DSN_RECIPIENTS = 1000
_DSN_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9-]{0,60})[ \t]*:[ \t]*(.*)$")


def _blocks_from_text(text: str) -> list[Message]:
    """Read a delivery-status body that the parser left as text."""
    blocks: list[Message] = []
    current: Message | None = None
    for line in text[:200_000].split("\n")[:5000]:
        if not line.strip():
            current = None
            continue
        match = _DSN_FIELD.match(line)
        if not match:
            continue
        if current is None:
            current = Message()
            blocks.append(current)
        try:
            current[match.group(1)] = match.group(2).strip()
        except Exception:  # noqa: BLE001, S112 - skip a field the Message refuses
            continue
    return blocks


# --------------------------------------------------------------------------- auto/bounce

_BOUNCE_SUBJECT = re.compile(
    r"undelivered mail|undeliverable|undelivered message|delivery status notification"
    r"|delivery failure|delivery has failed|mail delivery failed|failure notice"
    r"|returned mail|returned to sender|delivery failed|could not be delivered"
    r"|unzustellbar|nicht zustellbar|non remis|non distribuable|échec de la remise"
    r"|недоставленное сообщение|не доставлено|не вдалося доставити",
    re.IGNORECASE,
)
_AUTO_SUBJECT = re.compile(
    r"^[ \t]*(?:automatic reply|auto(?:matic)?[- ]?reply|autoreply|auto[- ]response"
    r"|out of (?:the )?office(?: reply| autoreply)?|abwesenheitsnotiz|automatische antwort"
    r"|réponse automatique|absence du bureau|răspuns automat|автоматический ответ"
    r"|автоматична відповідь)[ \t]*:",
    re.IGNORECASE,
)
_BOUNCE_RECIPIENT = re.compile(
    r"^[ \t]{0,20}<?([^\s<>@\"]{1,200}@[A-Za-z0-9.-]{1,250})>?[ \t]*:?[ \t]*(.{0,300})$",
    re.MULTILINE,
)
_SMTP_REASON = re.compile(
    r"(?:\b[45]\d\d[ -][45]\.\d{1,3}\.\d{1,3}\b|\b[45]\.\d{1,3}\.\d{1,3}\b|\b5\d\d\b)[^\n]{0,300}"
)
_SUPPRESS_VALUES = {"all", "oof", "autoreply"}
_LIST_HEADERS = ("list-id", "list-unsubscribe")


# Senders that are mail systems, never people: their mail is automatic whatever its headers.
_SYSTEM_SENDERS = frozenset({"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"})


def _auto_reason(msg: Message, subject: str, from_address: str = "") -> str:
    value = _raw_header(msg, "auto-submitted")
    if value is not None:
        keyword = _collapse(_unfold(value)).split(";", 1)[0].strip().lower()
        if keyword != "no":
            return f"Auto-Submitted: {keyword or 'present'}"
    value = _raw_header(msg, "precedence")
    if value:
        keyword = _collapse(_unfold(value)).lower()
        if keyword in ("bulk", "list", "junk", "auto_reply", "auto-reply"):
            return f"Precedence: {keyword}"
    for header in ("x-autoreply", "x-autorespond", "x-autoresponder", "x-autogenerated"):
        value = _raw_header(msg, header)
        if value is not None and _collapse(_unfold(value)).lower() not in ("no", "false", "0"):
            return {
                "x-autoreply": "X-Autoreply",
                "x-autorespond": "X-Autorespond",
                "x-autoresponder": "X-Autoresponder",
                "x-autogenerated": "X-Autogenerated",
            }[header]
    value = _raw_header(msg, "x-auto-response-suppress")
    if value:
        tokens = {token.strip().lower() for token in re.split(r"[,;\s]+", _unfold(value))}
        if tokens & _SUPPRESS_VALUES:
            return f"X-Auto-Response-Suppress: {_collapse(_unfold(value))[:100]}"
    if _raw_header(msg, "x-loop") is not None:
        return "X-Loop"
    for header in _LIST_HEADERS:
        if _raw_header(msg, header) is not None:
            return "List-Id" if header == "list-id" else "List-Unsubscribe"
    return_path = _raw_header(msg, "return-path")
    if return_path is not None and _collapse(_unfold(return_path)) in ("<>", ""):
        return "Return-Path: <>"
    if _AUTO_SUBJECT.match(subject):
        return "Subject: automatic reply"
    if from_address.split("@", 1)[0] in _SYSTEM_SENDERS:
        return f"From: {from_address.split('@', 1)[0].upper()}"
    return ""


_RETURNED_MESSAGE_ID = re.compile(
    r"^[ \t]{0,8}message-id[ \t]*:[ \t]*<?([^<>\s]{1,900})>?", re.IGNORECASE | re.MULTILINE
)
_ORIGINAL_MESSAGE_ID = re.compile(
    r"^[ \t]{0,8}(?:x-)?original-message-id[ \t]*:[ \t]*<?([^<>\s]{1,900})>?",
    re.IGNORECASE | re.MULTILINE,
)
_RETURNED_TYPES = ("message/rfc822", "message/global", "text/rfc822-headers")


def _returned_message_id(attachments: list[ParsedAttachment], text: str) -> str:
    """Message-ID of the original message a bounce returns (attached, or quoted inline)."""
    for attachment in attachments:
        if attachment.content_type == "message/delivery-status":
            match = _ORIGINAL_MESSAGE_ID.search(attachment.data[:65536].decode("latin-1"))
            if match:
                return match.group(1)
    for attachment in attachments:
        if attachment.content_type in _RETURNED_TYPES:
            head = attachment.data[:65536].decode("latin-1")
            match = _RETURNED_MESSAGE_ID.search(head)
            if match:
                return match.group(1)
    match = _RETURNED_MESSAGE_ID.search(text[:200_000])
    return match.group(1) if match else ""


def _text_bounce(text: str, sender: str) -> tuple[list[str], str]:
    recipients: list[str] = []
    reason = ""
    sample = text[:100_000]
    for match in _BOUNCE_RECIPIENT.finditer(sample):
        address = match.group(1).lower().strip(".")
        if address == sender or address.startswith(("mailer-daemon@", "postmaster@")):
            continue
        if address not in recipients:
            recipients.append(address)
        if not reason and match.group(2).strip():
            reason = match.group(2).strip()
        if len(recipients) >= 100:
            break
    smtp = _SMTP_REASON.search(sample)
    if smtp:
        reason = smtp.group(0).strip()
    return recipients, reason[:1000]


# --------------------------------------------------------------------------- parse


def _first_charset(msg: Message) -> tuple[str, ...]:
    """Charsets declared in the message, as hints for undeclared 8-bit headers."""
    found: list[str] = []
    stack = [msg]
    seen = 0
    while stack and seen < 50:
        part = stack.pop()
        seen += 1
        charset = _param(part, "charset")
        if isinstance(charset, str) and charset.strip() and charset.lower() not in found:
            found.append(charset.strip().lower())
        payload = part.get_payload()
        if isinstance(payload, list):
            stack.extend(reversed([child for child in payload if isinstance(child, Message)]))
    return tuple(charset for charset in found if charset not in ("us-ascii", "utf-8"))[:3]


def _coerce(raw) -> bytes:
    if isinstance(raw, bytes):
        return raw
    if isinstance(raw, bytearray | memoryview):
        return bytes(raw)
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    raise MailRejected("unparseable", f"expected bytes, got {type(raw).__name__}")


def parse(raw: bytes, limits: Limits | None = None) -> ParsedMail:
    """Parse one raw message. Raises :class:`MailRejected` and nothing else."""
    limits = limits or Limits()
    try:
        return _parse(_coerce(raw), limits)
    except MailRejected:
        raise
    except RecursionError as error:
        raise MailRejected("too_deep", "structure too deeply nested") from error
    except MemoryError as error:
        raise MailRejected("too_large", "out of memory") from error
    except Exception as error:  # noqa: BLE001 - the promise: nothing but MailRejected
        raise MailRejected("unparseable", f"{type(error).__name__}: {error}"[:300]) from error


def _parse(raw: bytes, limits: Limits) -> ParsedMail:
    _precheck(raw, limits)
    body = raw.lstrip(b"\r\n")
    if not body.strip():
        raise MailRejected("unparseable", "empty message")
    body, repaired = _repair_header_block(body, limits.max_header_bytes)
    msg = _feed_parser(body, limits)
    _walk_check(msg, limits)

    problems: list[str] = []
    if repaired:
        _note(problems, "broken header folding repaired")
    for defect in msg.defects:
        _note(problems, f"mime defect: {type(defect).__name__}")
    hints = _first_charset(msg)

    def header(name: str) -> str:
        return _collapse(_clean_text(decode_header_value(_raw_header(msg, name), hints, problems)))

    subject = header("subject")
    senders = [
        pair
        for raw_from in _raw_headers(msg, "from")[:5]
        for pair in _parse_addresses(raw_from, hints, problems)
    ]
    from_name, from_address = "", ""
    for name, address in sorted(senders, key=lambda pair: "@" not in pair[1]):
        from_name, from_address = name, address
        break
    if from_address.startswith("@"):
        from_name, from_address = "", ""  # "a@x b@y" read as one broken address
    if "@" not in from_address:
        recovered = _recover_address(_raw_headers(msg, "from")[:5], hints, problems)
        if recovered[1]:
            from_name, from_address = recovered
    reply_to_list = _parse_addresses(_raw_header(msg, "reply-to"), hints, problems)
    reply_to = reply_to_list[0][1] if reply_to_list else ""
    if not from_address:
        for fallback, label in (
            (_parse_addresses(_raw_header(msg, "sender"), hints, problems), "Sender"),
            (reply_to_list, "Reply-To"),
        ):
            if fallback:
                from_address = fallback[0][1]
                from_name = from_name or fallback[0][0]
                _note(problems, f"no From address; {label} used")
                break
    if not from_address:
        _note(problems, "no From address")

    to = [address for _name, address in _parse_addresses(_raw_header(msg, "to"), hints, problems)]
    cc = [address for _name, address in _parse_addresses(_raw_header(msg, "cc"), hints, problems)]
    message_ids = _parse_msgids(_raw_header(msg, "message-id"))
    message_id = message_ids[0] if message_ids else ""
    if not message_id:
        bare = _collapse(_fix_8bit(_unfold(_raw_header(msg, "message-id") or ""))).strip("<>")
        message_id = bare[:900]
    in_reply_to = _parse_msgids(_raw_header(msg, "in-reply-to"))
    references = _parse_msgids(" ".join(_raw_headers(msg, "references")))
    date = _parse_date(_raw_header(msg, "date"))

    walker = _Walker(limits, problems, hints)
    segments = walker.visit(msg, top=True)

    texts = []
    html_parts = []
    has_html = any(segment.html is not None for segment in segments)
    for segment in segments:
        if segment.plain is not None and (segment.plain.strip() or segment.html is None):
            texts.append(segment.plain.strip("\n"))
        elif segment.html is not None:
            texts.append(html_to_text(segment.html))
        if has_html:
            html_parts.append(
                segment.html if segment.html is not None else _plain_to_html(segment.plain or "")
            )
    text = "\n\n".join(piece for piece in texts if piece.strip()).rstrip()
    text = _clean_text(text)
    if len(text) > limits.max_text_chars:
        text = text[: limits.max_text_chars]
        _note(problems, f"text truncated to {limits.max_text_chars} characters")
    raw_html = "".join(html_parts)
    if len(raw_html) > limits.max_text_chars:
        raw_html = raw_html[: limits.max_text_chars]
        _note(problems, f"html truncated to {limits.max_text_chars} characters")
    referenced = {
        urllib.parse.unquote(match).strip().lower() for match in _CID_REFERENCE.findall(raw_html)
    }
    for attachment in walker.attachments:
        if attachment.content_id and attachment.content_id.lower() in referenced:
            attachment.referenced = True
            attachment.inline = True
    html = sanitise_html(raw_html) if raw_html else ""
    reply_text, quoted_text = split_quoted(text)

    auto_reason = _auto_reason(msg, subject, from_address)
    is_bounce = False
    bounced: list[str] = []
    bounce_reason = ""
    if walker.is_report and walker.report_type == "delivery-status":
        is_bounce = True
        bounced = walker.dsn_recipients
        bounce_reason = walker.dsn_reasons[0][:1000] if walker.dsn_reasons else ""
        if (
            not bounced
            and walker.dsn_actions
            and all(
                action in ("delayed", "delivered", "relayed", "expanded")
                for action in walker.dsn_actions
            )
        ):
            is_bounce = False  # a delivery report that is not a failure
            auto_reason = auto_reason or "delivery status notification"
    elif walker.is_report and walker.report_type == "disposition-notification":
        auto_reason = auto_reason or "read receipt (disposition-notification)"
    else:
        local = from_address.split("@", 1)[0]
        return_path = _collapse(_unfold(_raw_header(msg, "return-path") or "x"))
        from_daemon = local in ("mailer-daemon", "postmaster", "mail-daemon")
        if (from_daemon or return_path in ("<>", "")) and _BOUNCE_SUBJECT.search(subject):
            is_bounce = True
            bounced, bounce_reason = _text_bounce(text, from_address)
    if is_bounce and not bounce_reason and walker.dsn_actions:
        bounce_reason = "delivery failed"
    bounced_message_id = ""
    if is_bounce:
        auto_reason = auto_reason or "delivery status notification"
        if not bounced:
            bounced = _text_bounce(text, from_address)[0]
        bounced_message_id = _returned_message_id(walker.attachments, text)

    display = {}
    for name in ("From", "To", "Cc", "Reply-To", "Date", "Subject", "Message-ID"):
        value = header(name)
        if value:
            display[name] = value[:2000]

    return ParsedMail(
        message_id=message_id,
        in_reply_to=in_reply_to,
        references=references,
        subject=subject,
        from_address=from_address,
        from_name=from_name,
        reply_to=reply_to,
        to=to,
        cc=cc,
        date=date,
        text=text,
        html=html,
        reply_text=reply_text,
        quoted_text=quoted_text,
        attachments=walker.attachments,
        auto_submitted=bool(auto_reason) or is_bounce,
        auto_reason=auto_reason,
        is_bounce=is_bounce,
        bounced_recipients=bounced,
        bounce_reason=bounce_reason,
        aftercare_loop=header("x-aftercare-loop"),
        raw_size=len(raw),
        problems=problems,
        headers=display,
        bounced_message_id=bounced_message_id,
    )


# --------------------------------------------------------------------------- content hash

_TRACE_HEADERS = {
    "received",
    "return-path",
    "delivered-to",
    "x-original-to",
    "x-delivered-to",
    "envelope-to",
    "x-envelope-to",
    "x-envelope-from",
    "dkim-signature",
    "domainkey-signature",
    "x-google-dkim-signature",
    "authentication-results",
    "received-spf",
    "x-received",
    "x-originating-ip",
    "x-original-recipient",
    "x-original-sender",
    "x-apparently-to",
    "x-rcpt-to",
    "status",
    "x-status",
    "x-keywords",
    "x-uid",
    "content-length",
    "lines",
    "x-mozilla-status",
    "x-mozilla-status2",
    "x-greylist",
    "x-sieve",
    "x-virus-scanned",
    "x-virus-status",
    "x-scanned-by",
    "x-gm-message-state",
    "x-ms-exchange-organization-authas",
}
_TRACE_PREFIXES = (
    "arc-",
    "x-spam",
    "x-ham",
    "x-rspamd",
    "x-amavis",
    "x-ms-exchange-",
    "x-forefront-",
    "x-microsoft-antispam",
    "x-eopattributedmessage",
    "x-eoptenantattributedmessage",
    "x-proofpoint",
    "x-mimecast",
    "x-barracuda",
    "x-google-",
    "x-gm-",
    "x-ironport",
    "x-sophos",
    "x-cloudmark",
    "x-tm-",
    "x-cm-",
    "x-policy",
    "x-aftercare-received",
)
_HEADER_LINE = re.compile(rb"^([!-9;-~]{1,200})[ \t]*:(.*)$", re.DOTALL)


def content_hash(raw: bytes) -> str:
    """sha256 identifying a message independently of the route it took.

    Trace and filter headers (Received, Return-Path, Delivered-To, DKIM, ARC,
    Authentication-Results, spam and virus scanners, mailbox state) are ignored, line
    endings are normalised and the remaining headers are compared as a sorted set.
    """
    try:
        data = _coerce(raw)
    except MailRejected:
        data = b""
    data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").lstrip(b"\n")
    if data.startswith(b"From "):
        data = data.split(b"\n", 1)[1] if b"\n" in data else b""
    split = data.find(b"\n\n")
    head, body = (data, b"") if split < 0 else (data[:split], data[split + 2 :])
    fields: list[tuple[bytes, bytes]] = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, value + b" " + line.strip())
            continue
        match = _HEADER_LINE.match(line)
        if match:
            fields.append((match.group(1).lower(), match.group(2).strip()))
    kept = []
    for name, value in fields:
        text = name.decode("ascii", "replace")
        if text in _TRACE_HEADERS or text.startswith(_TRACE_PREFIXES):
            continue
        kept.append(name + b":" + b" ".join(value.split()))
    kept.sort()
    body = b"\n".join(line.rstrip() for line in body.split(b"\n")).rstrip(b"\n")
    digest = hashlib.sha256()
    for item in kept:
        digest.update(item + b"\n")
    digest.update(b"\n")
    digest.update(body)
    return digest.hexdigest()


# --------------------------------------------------------------------------- tickets, mbox

_TICKET_NUMBER = re.compile(r"(?<![A-Za-z0-9])AC-\d{4}-\d{6}(?![0-9])", re.IGNORECASE)


def extract_ticket_numbers(subject: str) -> list[str]:
    """Aftercare ticket numbers (AC-2026-000123) in ``subject``, upper-case, unique."""
    if not subject:
        return []
    result: list[str] = []
    for match in _TICKET_NUMBER.finditer(str(subject)[:10_000]):
        number = match.group(0).upper()
        if number not in result:
            result.append(number)
    return result


_FROM_LINE = re.compile(rb"^From [^\r\n]{0,1000}\r?$", re.MULTILINE)
_FROM_LINE_SHAPE = re.compile(rb"^From \S{1,500}[ \t][^\r\n]{0,400}\d{1,2}:\d{2}")
_MBOXRD_ESCAPE = re.compile(rb"^>(>*From )", re.MULTILINE)


def iter_mbox(data: bytes) -> Iterator[bytes]:
    """Split an mbox file into raw messages (From_ lines removed, >From unescaped).

    A From_ line starts a message only at the start of the file or after a blank line,
    and only when it looks like one (an envelope sender and a time), so an unescaped
    "From " at the start of a body line does not split a message.
    """
    data = _coerce(data)
    starts: list[tuple[int, int]] = []
    first_content = len(data) - len(data.lstrip(b"\r\n"))
    for match in _FROM_LINE.finditer(data):
        start = match.start()
        if start > first_content:
            before = data[max(start - 4, 0) : start].replace(b"\r", b"")
            if not before.endswith(b"\n\n"):
                continue  # not after a blank line: part of a body
        if not _FROM_LINE_SHAPE.match(match.group(0)):
            continue
        end = match.end()
        if data[end : end + 2] == b"\r\n":
            end += 2
        elif data[end : end + 1] in (b"\n", b"\r"):
            end += 1
        starts.append((start, end))
    if not starts:
        if data.strip():
            yield _MBOXRD_ESCAPE.sub(rb"\1", data)
        return
    for index, (_start, body_start) in enumerate(starts):
        body_end = starts[index + 1][0] if index + 1 < len(starts) else len(data)
        message = data[body_start:body_end]
        if message.endswith(b"\r\n"):
            message = message[:-2]
        elif message.endswith(b"\n"):
            message = message[:-1]
        if message.strip():
            yield _MBOXRD_ESCAPE.sub(rb"\1", message)
