"""Language: which language a story is written in (an ISO 639-1 code), told from its text, offline.

The script decides where it can (Han without kana is Chinese, Hangul Korean, Hebrew Hebrew, ...). Latin text that
reads like English (its function words) is English; other text goes to langdetect (its profiles ship in the
wheel; seeded, so the same text always gets the same answer). When in doubt, English: it is what storyreel did
before it knew other languages, and a wrong guess would change an English story's scenes and characters.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import cache

from ..errors import InputError

# ISO 639-1 codes storyreel knows, with their English names (for messages)
LANGUAGES = {
    "af": "Afrikaans", "am": "Amharic", "ar": "Arabic", "az": "Azerbaijani", "be": "Belarusian",
    "bg": "Bulgarian", "bn": "Bengali", "bs": "Bosnian", "ca": "Catalan", "cs": "Czech", "cy": "Welsh",
    "da": "Danish", "de": "German", "el": "Greek", "en": "English", "eo": "Esperanto", "es": "Spanish",
    "et": "Estonian", "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fr": "French", "ga": "Irish",
    "gd": "Scottish Gaelic", "gl": "Galician", "gu": "Gujarati", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian",
    "ht": "Haitian Creole", "hu": "Hungarian", "hy": "Armenian", "id": "Indonesian", "is": "Icelandic",
    "it": "Italian", "ja": "Japanese", "ka": "Georgian", "kk": "Kazakh", "km": "Khmer", "kn": "Kannada",
    "ko": "Korean", "ku": "Kurdish", "ky": "Kyrgyz", "la": "Latin", "lb": "Luxembourgish", "lo": "Lao",
    "lt": "Lithuanian", "lv": "Latvian", "mi": "Maori", "mk": "Macedonian", "ml": "Malayalam", "mn": "Mongolian",
    "mr": "Marathi", "ms": "Malay", "mt": "Maltese", "my": "Burmese", "nb": "Norwegian Bokmål", "ne": "Nepali",
    "nl": "Dutch", "no": "Norwegian", "or": "Odia", "pa": "Punjabi", "pl": "Polish", "pt": "Portuguese",
    "ro": "Romanian", "ru": "Russian", "si": "Sinhala", "sk": "Slovak", "sl": "Slovenian", "so": "Somali",
    "sq": "Albanian", "sr": "Serbian", "sv": "Swedish", "sw": "Swahili", "ta": "Tamil", "te": "Telugu",
    "th": "Thai", "tl": "Tagalog", "tr": "Turkish", "tt": "Tatar", "uk": "Ukrainian", "ur": "Urdu",
    "uz": "Uzbek", "vi": "Vietnamese", "yi": "Yiddish", "zh": "Chinese",
}  # fmt: skip

# scripts that name their language (the first word of a character's Unicode name)
_SCRIPT_LANGUAGE = {
    "HANGUL": "ko", "HEBREW": "he", "GREEK": "el", "THAI": "th", "LAO": "lo", "KHMER": "km", "MYANMAR": "my",
    "GEORGIAN": "ka", "ARMENIAN": "hy", "ETHIOPIC": "am", "SINHALA": "si", "BENGALI": "bn", "TAMIL": "ta",
    "TELUGU": "te", "GUJARATI": "gu", "KANNADA": "kn", "MALAYALAM": "ml", "GURMUKHI": "pa", "ORIYA": "or",
}  # fmt: skip
# scripts shared by several languages: langdetect chooses among these, else the first
_SCRIPT_CHOICES = {"ARABIC": ("ar", "fa", "ur"), "CYRILLIC": ("ru", "uk", "bg", "mk"), "DEVANAGARI": ("hi", "mr", "ne")}

# English words that are rare in other Latin-script languages' text ("a", "in", "was", "die" are not)
_ENGLISH = frozenset(
    "the and of to she his her with that for they you at it but from not this were said have him them their there "
    "when what which would could into out up all be by are we my who then if or its our your been has did very "
    "just over after back where how now know like some only about than these those because one same each every "
    "make made went saw came upon time day night old little once can looked asked".split()
)
_WORDS = re.compile(r"[^\W\d_]+")
MIN_LETTERS = 40  # below this, langdetect guesses wildly ("Anna met Ben." reads as Swedish)


def check_language(code: str) -> str:
    """A language the user gave, as its ISO 639-1 code ("FR", "fr-FR", "zh-CN" -> "fr", "fr", "zh")."""
    base = code.strip().lower().replace("_", "-").split("-")[0]
    if base not in LANGUAGES:
        raise InputError(f"--language {code!r} is not a language storyreel knows: give an ISO 639-1 code such as "
                         "en, fr, de, es, it, pt, zh, ja, ko, ar, ru or hi, or leave it out to detect it")  # fmt: skip
    return base


def story_language(narrated: str, given: str | None = None) -> str:
    """The language a story is told in: the one the user gave (checked), else the one its narrated text reads as."""
    return check_language(given) if given else detect_language(narrated)


def language_name(code: str) -> str:
    return LANGUAGES.get(code, code)


def script_of(ch: str) -> str:
    """The script of a letter, from its Unicode name: LATIN, CJK, HIRAGANA, ARABIC, ... ("" if unnamed)."""
    name = unicodedata.name(ch, "")
    if name.startswith(("CJK ", "KANGXI", "IDEOGRAPHIC")):
        return "CJK"
    return name.split(" ", 1)[0].split("-", 1)[0]  # "KATAKANA-HIRAGANA PROLONGED SOUND MARK": KATAKANA


def detect_language(text: str) -> str:
    """The ISO 639-1 code of the language ``text`` is written in; English when it cannot tell."""
    scripts = Counter(script_of(ch) for ch in text if ch.isalpha())
    if not scripts:
        return "en"
    kana = scripts["HIRAGANA"] + scripts["KATAKANA"]
    if scripts["CJK"] + kana >= max(scripts.values()):  # Chinese characters (with kana: Japanese)
        return "ja" if kana >= 0.1 * (scripts["CJK"] + kana) else "zh"
    script = scripts.most_common(1)[0][0]
    if script in _SCRIPT_LANGUAGE:
        return _SCRIPT_LANGUAGE[script]
    if script in _SCRIPT_CHOICES:
        choices = _SCRIPT_CHOICES[script]
        guess = _langdetect(text)
        return guess[0] if guess and guess[0] in choices else choices[0]
    if script != "LATIN":
        return "en"  # a script we have no language for: the voice and the splitter default to English
    words = [w.lower() for w in _WORDS.findall(text)]
    if not words or sum(w in _ENGLISH for w in words) >= 0.12 * len(words):
        return "en"
    if scripts["LATIN"] < MIN_LETTERS:
        return "en"
    guess = _langdetect(text)
    return guess[0] if guess and guess[1] >= 0.9 and guess[0] in LANGUAGES else "en"


def _langdetect(text: str) -> tuple[str, float] | None:
    """langdetect's best guess and its probability (None when it has none)."""
    from langdetect import LangDetectException, detect_langs

    _seed()
    try:
        best = detect_langs(text[:20_000])[0]
    except (LangDetectException, IndexError):
        return None
    return best.lang.split("-")[0], best.prob


@cache
def _seed() -> None:
    from langdetect import DetectorFactory

    DetectorFactory.seed = 0  # langdetect samples at random: seeded, the same text gets the same answer


# Chinese characters and kana: written without spaces, spoken about a character at a time. Captions and word
# timings take them one by one; other scripts without spaces (Thai, Lao, Khmer, Burmese) keep their runs whole.
IDEOGRAPHIC = "\u3005\u3007\u3021-\u3029\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
OTHER_NO_SPACE = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff"  # Thai, Lao, Burmese, Khmer
_IDEOGRAPH = re.compile(f"[{IDEOGRAPHIC}]")


def is_ideographic(ch: str) -> bool:
    """A Chinese character or kana: a caption may break before or after it, and it is timed on its own."""
    return bool(_IDEOGRAPH.match(ch))
