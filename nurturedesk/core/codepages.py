"""Which Windows code page a list of European names is in, judged by its words.

Excel on Windows saves "CSV" in the machine's code page. The single-byte Latin code pages
decode every byte to some letter, so a general detector often cannot tell a Czech cp1250
file from a Western cp1252 one ("Jiří" reads as "Jiøí"). But a word is written in one
language: under the right code page each word's accented letters belong to one alphabet,
under a wrong one they mix alphabets ("Jiøí": a Danish ø beside a Czech í). Counting the
words that fit no alphabet tells the code pages apart on a few rows of names.
"""

from __future__ import annotations

import re

# The accented letters of each language, by the code page that writes it.
_ALPHABETS: dict[str, tuple[str, ...]] = {
    "cp1252": (
        "äöüß",  # German
        "àâæçéèêëîïôœùûüÿ",  # French
        "áéíñóúü",  # Spanish
        "áâãàçéêíóôõú",  # Portuguese
        "àèéìíîòóùú",  # Italian
        "àçèéíïòóúü",  # Catalan
        "áäéëïóöü",  # Dutch
        "æøåéó",  # Danish, Norwegian
        "åäöé",  # Swedish
        "åäöšž",  # Finnish
        "áðéíóúýþæö",  # Icelandic
        "äõöüšž",  # Estonian
        "çë",  # Albanian
    ),
    "cp1250": (
        "ąćęłńóśźż",  # Polish
        "áčďéěíňóřšťúůýž",  # Czech
        "áäčďéíĺľňóôŕšťúýž",  # Slovak
        "áéíóöőúüű",  # Hungarian
        "čćđšž",  # Slovene, Croatian, Bosnian
        "ăâîşţșț",  # Romanian
        "äöüß",  # German
    ),
    "cp1254": (
        "çğıöşüâîû\u0307",  # Turkish ("İ" lower-cased is "i" and a combining dot)
        "äöüß",
        "àâæçéèêëîïôœùûüÿ",
        "áéíñóúü",
    ),
    "cp1257": (
        "ąčęėįšųūž",  # Lithuanian
        "āčēģīķļņšūž",  # Latvian
        "äõöüšž",  # Estonian
        "äöüß",
    ),
}
_LETTERS = {page: [frozenset(a) for a in alphabets] for page, alphabets in _ALPHABETS.items()}
_WORD = re.compile(r"[^\W\d_]*[^\x00-\x7f\W\d_][^\W\d_]*")  # letters, one of them not ASCII
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def latin_code_page(sample: bytes) -> str | None:
    """cp1250, cp1254 or cp1257 when the sample's words say so clearly; None otherwise (a
    Western file, one too short to tell, or one in another script: others judge those)."""
    western = decoded(sample, "cp1252")
    if western is None:
        return None
    if odd := symbols_in_words(western):
        # cp1252 shows some Central European letters as symbols inside words ("Zakład" ->
        # "Zak³ad"): no letters at all, so no alphabet to judge them by.
        central = decoded(sample, "cp1250")
        if central is not None and symbols_in_words(central) < odd:
            return "cp1250"
    misfits = _misfits(western, "cp1252")
    best, fewest = None, misfits
    for page in ("cp1250", "cp1254", "cp1257"):
        text = decoded(sample, page)
        if text is not None and (count := _misfits(text, page)) < fewest:
            best, fewest = page, count
    # Clearly better only: a name or two from elsewhere must not turn a whole list around.
    if best is not None and misfits - fewest >= 2 and fewest * 4 <= misfits:
        return best
    return None


def symbols_in_words(text: str) -> int:
    """How many non-ASCII characters that are no letters stand between two letters."""
    return sum(
        1
        for m in _NON_ASCII.finditer(text, 1, len(text) - 1)
        if not m.group().isalpha() and text[m.start() - 1].isalpha() and text[m.end()].isalpha()
    )


def _misfits(text: str, page: str) -> int:
    """Different words whose accented letters fit none of the code page's alphabets."""
    alphabets = _LETTERS[page]
    count = 0
    for word in set(_WORD.findall(text)):
        accented = {c for c in word.lower() if c > "\x7f"}
        if not any(accented <= alphabet for alphabet in alphabets):
            count += 1
    return count


def decoded(sample: bytes, encoding: str) -> str | None:
    """The bytes as text in that encoding, or None if they are not."""
    try:
        return sample.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None
