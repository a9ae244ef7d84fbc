"""Script-neutral keys for personal and business names (Arabic ↔ Latin).

The same Emirati customer is typed as "Mohammed", "Muhammad", "Mohamad" or
"محمد" depending on who keys the record in. Rather than keep a dictionary of
every spelling, we reduce a name token in either script to a *consonant
skeleton* in a shared alphabet:

* Arabic letters map to the Latin consonant classes their usual romanisations
  use (ح and ه → ``h``, خ/kh → ``x``, ش/sh → ``c``, ق and ك → ``k``,
  ذ ظ ز/z/dh → ``z``, د ض/d → ``d``, …). Letters romanised several ways get
  alternative keys (`alternative_keys`): a Latin "dh" may also be ض
  (Ramadhan / رمضان) and a bare "g" may be ق (Nagbi / النقبي).
* Vowels are dropped in both scripts (Arabic only writes long vowels, and Latin
  spellings disagree about them: Mohammed / Muhammad), except that a word that
  *starts* with a vowel or ع keeps an ``a`` marker (Ali / علي, Omar / عمر).
* The definite article (Al-, El-, ال) and the sun-letter forms after "Abd"
  (Abdul, Abdur, Abdel, عبد ال) are removed, so "Abdul Rahman",
  "Abdurrahman" and "عبد الرحمن" all become ``abd`` + ``rhmn``.
* Doubled consonants collapse and a final ``h`` / ة is dropped
  (Fatima / Fatimah / فاطمة).

The skeleton is deliberately coarse — it is an *equality* key, one of several
comparison levels, and the Fellegi–Sunter model learns how much agreement on
it is worth (the key "mhmd" is shared by Mohammed and Mahmoud; term-frequency
adjustment makes such common keys weigh little). Thai script has no phonetic
mapping here: its key is the token without tone marks, the most common typo.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Literal

import jellyfish

Script = Literal["latin", "arabic", "thai", "other", ""]

_ARABIC_RANGE = re.compile("[\u0600-\u06ff]")
_THAI_RANGE = re.compile("[\u0e00-\u0e7f]")
_LATIN_RANGE = re.compile("[a-z]")
# Thai tone marks and the silent-letter mark: typed inconsistently, never decisive.
_THAI_TONE_MARKS = re.compile("[\u0e47-\u0e4e]")
# Anything that is not a letter, digit or Thai combining mark separates tokens.
_SEPARATORS = re.compile(r"[^\w\u0e31\u0e34-\u0e3a\u0e47-\u0e4e]+")

# Arabic letters after `normalize_arabic` (hamza forms, ى, ة already folded).
# Letters mapped to "" behave as vowels: dropped inside a word.
_ARABIC_CONSONANTS: dict[str, str] = {
    "ب": "b",
    "ت": "t",
    "ث": "t",
    "ج": "j",
    "ح": "h",
    "خ": "x",
    "د": "d",
    "ذ": "z",
    "ر": "r",
    "ز": "z",
    "س": "s",
    "ش": "c",
    "ص": "s",
    "ض": "d",
    "ط": "t",
    "ظ": "z",
    "غ": "j",
    "ف": "f",
    "ق": "k",
    "ك": "k",
    "ل": "l",
    "م": "m",
    "ن": "n",
    "ه": "h",
    "پ": "b",
    "چ": "c",
    "ژ": "z",
    "گ": "j",
    "ڤ": "f",
    "ی": "",
    "ک": "k",
    "ا": "",
    "ع": "",
    "ء": "",
    "و": "",
    "ي": "",
}
_ARABIC_WORD_INITIAL = {"ا": "a", "ع": "a", "ء": "a", "و": "w", "ي": "y", "ی": "y"}

# Latin digraphs first (order matters: "kh" before "h" rules), then letters.
_LATIN_DIGRAPHS = (
    ("sch", "c"),
    ("kh", "x"),
    ("gh", "j"),
    ("sh", "c"),
    ("ch", "c"),
    ("th", "t"),
    ("dh", "Z"),
    ("ph", "f"),
    ("ck", "k"),
    ("zh", "Z"),
)
_LATIN_LETTERS: dict[str, str] = {
    "b": "b",
    "c": "k",
    "d": "d",
    "f": "f",
    "g": "j",
    "h": "h",
    "j": "j",
    "k": "k",
    "l": "l",
    "m": "m",
    "n": "n",
    "p": "b",
    "q": "k",
    "r": "r",
    "s": "s",
    "t": "t",
    "v": "f",
    "x": "ks",
    "z": "z",
    "w": "",
    "y": "",
    "a": "",
    "e": "",
    "i": "",
    "o": "",
    "u": "",
}
_LATIN_LETTERS_HARD_G = {**_LATIN_LETTERS, "g": "k"}
_LATIN_VOWELS = frozenset("aeiou")

# Tokens that carry no identity: articles, kinship connectors, honorifics.
NAME_PARTICLES = frozenset(
    {
        "al",
        "el",
        "ul",
        "bin",
        "ben",
        "ibn",
        "bint",
        "binti",
        "bte",
        "bt",
        "abu",
        "ash",
        "ar",
        "as",
        "ad",
        "az",
        "adh",
        "ath",
        "ال",
        "بن",
        "ابن",
        "بنت",
        "mr",
        "mrs",
        "ms",
        "miss",
        "dr",
        "eng",
        "sheikh",
        "shaikh",
        "sheikha",
        "السيد",
        "السيده",
        "الشيخ",
        "الشيخه",
        "الدكتور",
        "د",
        "م",
        "นาย",
        "นาง",
        "นางสาว",
        "คุณ",
        "ดร",
    }
)
# "abu" (father of) is kept out of keys because it is a kunya, not a family name;
# it is listed above with the other connectors.

# Irregular romanisations the skeleton cannot derive (abbreviations mostly).
_IRREGULAR_SPELLINGS: dict[str, str] = {
    "mohd": "muhammad",
    "muhd": "muhammad",
    "mohmd": "muhammad",
    "md": "muhammad",
    "mhd": "muhammad",
    "mo": "muhammad",
    "abdallah": "abdullah",
    "abdalla": "abdullah",
    "abdulla": "abdullah",
}

# Latin "Abd" compounds: Abdul / Abdur / Abdel / Abd al / Abd-ar … + divine name.
_LATIN_ABD_COMPOUND = re.compile(
    r"\b(?:abd|abdu|abdo|abdou|abdoo)(?:[\s-]*(?:[aeiou]l|l)(?=[\s-]|[a-z])"
    r"|[aeiou](?:([rsntdz])(?=\1))?)?[\s-]*(?=[a-z])"
)
_ARABIC_ABD_COMPOUND = re.compile(r"(?:^|(?<=\s))عبد\s*(?:ال)?(?=\S)")
ABD_MARK = "abd_"

# English short forms → formal given name (used as the "nickname" level).
_NICKNAME_GROUPS: tuple[tuple[str, ...], ...] = (
    ("robert", "bob", "rob", "robbie", "bobby", "bert"),
    ("william", "bill", "will", "billy", "willy", "liam"),
    ("richard", "rick", "rich", "dick", "ricky"),
    ("james", "jim", "jimmy", "jamie"),
    ("john", "jack", "johnny", "jon"),
    ("michael", "mike", "mick", "mickey", "mikey"),
    ("thomas", "tom", "tommy"),
    ("joseph", "joe", "joey", "jo"),
    ("charles", "charlie", "chuck", "chas"),
    ("christopher", "chris", "kit", "topher"),
    ("daniel", "dan", "danny"),
    ("matthew", "matt", "matty"),
    ("anthony", "tony"),
    ("andrew", "andy", "drew"),
    ("edward", "ed", "eddie", "ted", "ned"),
    ("david", "dave", "davey"),
    ("stephen", "steve", "steven", "stevie"),
    ("samuel", "sam", "sammy"),
    ("benjamin", "ben", "benny"),
    ("alexander", "alex", "sandy", "xander"),
    ("nicholas", "nick", "nicky"),
    ("jonathan", "jon", "jonny"),
    ("timothy", "tim", "timmy"),
    ("patrick", "pat", "paddy"),
    ("peter", "pete"),
    ("gregory", "greg"),
    ("kenneth", "ken", "kenny"),
    ("ronald", "ron", "ronnie"),
    ("donald", "don", "donnie"),
    ("raymond", "ray"),
    ("lawrence", "larry"),
    ("gerald", "gerry", "jerry"),
    ("frederick", "fred", "freddie"),
    ("elizabeth", "liz", "beth", "betty", "lizzie", "eliza", "libby", "betsy"),
    ("margaret", "maggie", "meg", "peggy", "marge", "margie"),
    ("katherine", "kate", "katie", "kathy", "kat", "catherine", "kathryn", "cathy"),
    ("jennifer", "jen", "jenny"),
    ("rebecca", "becky", "becca"),
    ("susan", "sue", "susie"),
    ("deborah", "deb", "debbie"),
    ("patricia", "pat", "patty", "trish", "tricia"),
    ("victoria", "vicky", "tori"),
    ("jessica", "jess", "jessie"),
    ("samantha", "sam", "sammie"),
    ("christine", "chris", "chrissy", "christina", "tina"),
    ("barbara", "barb", "babs"),
    ("dorothy", "dot", "dottie"),
    ("abigail", "abby", "gail"),
    ("alexandra", "alex", "lexi", "sandra"),
    ("amanda", "mandy"),
    ("pamela", "pam"),
    ("kimberly", "kim"),
    ("melissa", "mel", "missy"),
    ("jacqueline", "jackie"),
    ("theresa", "tess", "terri"),
    ("josephine", "josie"),
    ("mohammed", "hamoudi", "hamada"),
)


def _build_nickname_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for group in _NICKNAME_GROUPS:
        formal = group[0]
        for name in group:
            # First group wins for ambiguous short forms ("pat", "chris", "sam").
            index.setdefault(name, formal)
    return index


_NICKNAMES = _build_nickname_index()


def normalize_unique(text: str | None) -> str:
    """`majlis.core.i18n.normalize_text` with a fast path for ASCII.

    For ASCII input every step of `normalize_text` except case folding and
    whitespace collapsing is the identity, and batch scans normalise millions
    of mostly-ASCII strings. Use this for values that rarely repeat (emails,
    addresses); `normalize` caches.
    """
    if not text:
        return ""
    if text.isascii():
        return " ".join(text.lower().split())
    return _normalize_non_ascii(text)


# The same steps as `normalize_text`, with C-level str.translate / regex calls
# instead of per-character Python loops (a property test checks equality).
_DIGITS_AND_INVISIBLES = str.maketrans(
    {
        **{0x0660 + i: str(i) for i in range(10)},
        **{0x06F0 + i: str(i) for i in range(10)},
        **{0x0E50 + i: str(i) for i in range(10)},
        **dict.fromkeys(
            [*range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF]
        ),
    }
)
_LATIN_COMBINING = re.compile(
    "[" + "".join(chr(c) for c in range(0x600) if unicodedata.combining(chr(c))) + "]"
)
_ARABIC_MARKS_AND_TATWEEL = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ARABIC_FOLDS = str.maketrans(
    {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"}
)


def _normalize_non_ascii(text: str) -> str:
    text = text.translate(_DIGITS_AND_INVISIBLES)
    text = unicodedata.normalize(
        "NFC", _LATIN_COMBINING.sub("", unicodedata.normalize("NFKD", text))
    )
    text = _ARABIC_MARKS_AND_TATWEEL.sub("", text).translate(_ARABIC_FOLDS).casefold()
    return " ".join(text.split())


@lru_cache(maxsize=100_000)
def normalize(text: str | None) -> str:
    """`normalize_unique`, cached: for values that repeat (kinds, cities, names)."""
    return normalize_unique(text)


@lru_cache(maxsize=300_000)
def script_of(text: str) -> Script:
    """The dominant script of an already-normalised token or name."""
    if not text:
        return ""
    if _ARABIC_RANGE.search(text):
        return "arabic"
    if _THAI_RANGE.search(text):
        return "thai"
    if _LATIN_RANGE.search(text):
        return "latin"
    return "other"


def _join_abd_compounds(text: str) -> str:
    """Glue "Abd" + (article) + divine name into one token marked ``abd_``."""
    if "abd" in text:
        text = _LATIN_ABD_COMPOUND.sub(ABD_MARK, text)
    if "عبد" in text:
        text = _ARABIC_ABD_COMPOUND.sub(ABD_MARK, text)
    return text


# Apostrophes and okina-like marks stand for ع or a glottal stop (Ka'abi, Za'abi):
# they are dropped, not treated as token separators.
_APOSTROPHES = re.compile("['’ʻʼ`´]")


def name_tokens(text: str | None) -> list[str]:
    """Normalised identity-bearing tokens of a personal or business name.

    Normalised as in search (`normalize_text`), split on punctuation, with
    particles and honorifics (Al, bin, Mr, الشيخ, นาย…) removed and "Abd"
    compounds joined ("abdul rahman" → "abd_rahman"), so that token position
    means the same thing in every spelling.
    """
    normalised = _APOSTROPHES.sub("", normalize_unique(text))
    if not normalised:
        return []
    normalised = _join_abd_compounds(normalised)
    tokens = []
    for raw in _SEPARATORS.split(normalised):
        if raw in NAME_PARTICLES:
            continue
        token = _strip_glued_article(raw.strip("_"), raw.startswith(ABD_MARK))
        if token and token not in NAME_PARTICLES:
            tokens.append(token)
    return tokens


def _strip_glued_article(token: str, is_abd: bool) -> str:
    """ "Almansouri" → "mansouri", "المنصوري" → "منصوري"; keep "Alexander", "Albert"."""
    if is_abd:
        return ABD_MARK + token[len(ABD_MARK) :].lstrip("_")
    if token.startswith("ال") and len(token) >= 5:
        return token[2:]
    if (
        token.startswith(("al", "el"))
        and len(token) >= 7
        and token[2] not in _LATIN_VOWELS
        and token[2] != "l"
    ):
        return token[2:]
    return token


@lru_cache(maxsize=200_000)
def transliteration_key(token: str) -> str:
    """Script-neutral consonant skeleton of one normalised name token.

    ``transliteration_key("mohammed") == transliteration_key("محمد") == "mhmd"``.
    Thai tokens lose their tone marks; other scripts are returned unchanged.
    """
    if not token:
        return ""
    if token.startswith(ABD_MARK):
        rest = token[len(ABD_MARK) :]
        return "abd" + (_skeleton(rest) if rest else "")
    token = _IRREGULAR_SPELLINGS.get(token, token)
    return _skeleton(token)


@lru_cache(maxsize=200_000)
def alternative_keys(token: str) -> frozenset[str]:
    """All plausible keys of a token: its key, plus readings of ambiguous spellings.

    * A bare Latin "g" is ج in Egyptian spellings (Gamal) but ق in Gulf ones
      (Nagbi / النقبي, Gargash / قرقاش); a Latin "dh" may be ض (Ramadhan / رمضان).
    * ظ and ذ are written "dh", "z" or "d" (Dhaheri / Zaheri / Daheri / الظاهري),
      ض "d" or "dh".
    * A glued article before a vowel is ambiguous in Latin script ("Alameri" is
      Al Ameri, "Alexander" is not), so such tokens also get the key without it.
    """
    key = transliteration_key(token)
    if not key:
        return frozenset()
    script = script_of(token)
    if script == "arabic":
        return _arabic_alternatives(token, key)
    if script != "latin":
        return frozenset({key})
    is_abd = token.startswith(ABD_MARK)
    body = token[len(ABD_MARK) :] if is_abd else token
    body = _IRREGULAR_SPELLINGS.get(body, body)
    bodies = [body]
    if not is_abd and _GLUED_ARTICLE_BEFORE_VOWEL.match(body):
        bodies.append(body[2:])
    keys = {key}
    for text in bodies:
        for hard_g in (False, True):
            for soft_dh in (False, True):
                if (hard_g or soft_dh) and not _AMBIGUOUS_LATIN.search(text):
                    continue
                variant = _latin_skeleton(text, hard_g=hard_g, soft_dh=soft_dh)
                keys.add("abd" + variant if is_abd else variant)
    keys.discard("")
    return frozenset(keys)


# A bare "g" (not "gh") or a "dh" has more than one Arabic reading.
_AMBIGUOUS_LATIN = re.compile("g(?!h)|dh")
_GLUED_ARTICLE_BEFORE_VOWEL = re.compile("^(?:al|el)[aeiou][a-z]{3,}$")
# ظ/ذ read as د, ض read as ز: the other romanisations of these letters.
_ARABIC_SOFT_READINGS = str.maketrans({"ظ": "د", "ذ": "د", "ض": "ز"})


def _arabic_alternatives(token: str, key: str) -> frozenset[str]:
    softened = token.translate(_ARABIC_SOFT_READINGS)
    if softened == token:
        return frozenset({key})
    if token.startswith(ABD_MARK):
        return frozenset({key, "abd" + _arabic_skeleton(softened[len(ABD_MARK) :])})
    return frozenset({key, _arabic_skeleton(softened)})


def _skeleton(token: str) -> str:
    script = script_of(token)
    if script == "arabic":
        return _arabic_skeleton(token)
    if script == "latin":
        return _latin_skeleton(token)
    if script == "thai":
        return _THAI_TONE_MARKS.sub("", token)
    return token


def _arabic_skeleton(token: str) -> str:
    letters = [ch for ch in token if ch in _ARABIC_CONSONANTS]
    if not letters:
        return ""
    # A final ة/ه is (almost always) the feminine ending or the silent h of "Allah";
    # a final ح is dropped too because Latin spellings drop a final "h" (Saleh/صالح).
    while letters[-1] in ("ه", "ح") and len(letters) >= 2:
        letters.pop()
    out = [_ARABIC_WORD_INITIAL.get(letters[0], _ARABIC_CONSONANTS[letters[0]])]
    out.extend(_ARABIC_CONSONANTS[ch] for ch in letters[1:])
    return _collapse("".join(out))


def _latin_skeleton(token: str, *, hard_g: bool = False, soft_dh: bool = False) -> str:
    word = "".join(ch for ch in token if "a" <= ch <= "z")
    if not word:
        return ""
    if len(word) >= 3 and word.endswith("h") and word[-2] in _LATIN_VOWELS:
        word = word[:-1]
    initial = ""
    if word[0] in _LATIN_VOWELS:
        initial, word = "a", word[1:]
    elif word[0] in "wy":
        initial, word = word[0], word[1:]
    if soft_dh:
        word = word.replace("dh", "D")  # read as ض rather than ذ/ظ
    for digraph, replacement in _LATIN_DIGRAPHS:
        word = word.replace(digraph, replacement.upper())
    letters = _LATIN_LETTERS_HARD_G if hard_g else _LATIN_LETTERS
    body = "".join(ch.lower() if ch.isupper() else letters.get(ch, "") for ch in word)
    return _collapse(initial + body)


def _collapse(skeleton: str) -> str:
    """Collapse runs of the same consonant (Mohammed → mhmd, عزيز → ad)."""
    out: list[str] = []
    for ch in skeleton:
        if not out or out[-1] != ch:
            out.append(ch)
    return "".join(out)


def name_keys(text: str | None) -> list[str]:
    """Transliteration keys of every identity-bearing token, in order."""
    return [key for key in map(transliteration_key, name_tokens(text)) if key]


def same_name(a: str | None, b: str | None) -> bool:
    """Whether two names are the same after transliteration, token order free.

    ``same_name("Abdul Rahman", "عبد الرحمن")`` and
    ``same_name("Al Mansouri Mohammed", "محمد المنصوري")`` are true.
    """
    keys_a, keys_b = name_keys(a), name_keys(b)
    return bool(keys_a) and sorted(keys_a) == sorted(keys_b)


def nickname_root(token: str) -> str:
    """The formal given name for a known short form ("bob" → "robert")."""
    return _NICKNAMES.get(token, token)


@lru_cache(maxsize=200_000)
def phonetic_code(token: str) -> str:
    """Metaphone code of a Latin-script token; empty for other scripts.

    Metaphone handles English spelling variation (Catherine / Kathryn,
    Smith / Smyth) that the Arabic-oriented skeleton deliberately ignores.
    """
    if not token or script_of(token) != "latin" or token.startswith(ABD_MARK):
        return ""
    letters = "".join(ch for ch in token if "a" <= ch <= "z")
    return jellyfish.metaphone(letters) if letters else ""
