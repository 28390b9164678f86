"""Fonts for the captions: Roboto first, then a font of the machine that has the glyphs Roboto lacks.

libass finds a font for a character Roboto lacks through fontconfig: it sorts the fonts by how well they match
"sans-serif" and takes the first that has the character. Our fontconfig file lists the fonts we prefer for that
(Noto CJK for Chinese and Japanese, Noto or DejaVu for Arabic and Hebrew), so the choice does not depend on how
the machine's fontconfig is set up. Where no font has a script's letters, libass draws empty boxes: we say so
before rendering, and which Debian package has them.
"""

from __future__ import annotations

import bisect
import os
import struct
import unicodedata
from functools import cache
from html import escape
from pathlib import Path

from ..stages.language import script_of

SYSTEM_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts")
_CJK = {"sc": "Noto Sans CJK SC", "tc": "Noto Sans CJK TC", "jp": "Noto Sans CJK JP", "kr": "Noto Sans CJK KR"}
_OTHERS = ("Noto Sans", "Noto Sans Arabic", "Noto Naskh Arabic", "Noto Sans Hebrew", "Noto Sans Devanagari",
           "Noto Sans Thai", "DejaVu Sans", "FreeSans")  # fmt: skip
# the Debian package with the letters of a script (fonts-noto-core has most scripts)
_PACKAGES = {"CJK": "fonts-noto-cjk", "HIRAGANA": "fonts-noto-cjk", "KATAKANA": "fonts-noto-cjk",
             "HANGUL": "fonts-noto-cjk", "BOPOMOFO": "fonts-noto-cjk"}  # fmt: skip
_SCRIPT_NAMES = {"CJK": "Chinese", "HIRAGANA": "Japanese", "KATAKANA": "Japanese", "HANGUL": "Korean"}


def font_dirs() -> list[Path]:
    return [Path(d).expanduser() for d in SYSTEM_FONT_DIRS]


def fontconfig_xml(own: Path, cache_dir: Path, text: str = "") -> str:
    """A fontconfig file: our fonts folder and the machine's, and the fonts preferred for what Roboto lacks (the
    CJK font of the text's language first: Japanese kana, Korean Hangul, else Chinese)."""
    scripts = {script_of(ch) for ch in set(text) if ch.isalpha()}
    first = "jp" if scripts & {"HIRAGANA", "KATAKANA"} else "kr" if "HANGUL" in scripts else "sc"
    families = ["Roboto", _CJK[first], *(f for k, f in _CJK.items() if k != first), *_OTHERS]
    dirs = "".join(f"  <dir>{escape(str(d))}</dir>\n" for d in [own, *font_dirs()])
    prefer = "".join(f"<family>{escape(f)}</family>" for f in families)
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        f"{dirs}  <cachedir>{escape(str(cache_dir))}</cachedir>\n"
        f'  <alias binding="same"><family>sans-serif</family><prefer>{prefer}</prefer></alias>\n</fontconfig>\n'
    )


def missing_font_warning(text: str, own: list[Path] | None = None, dirs: list[Path] | None = None) -> str | None:
    """One line naming the scripts of ``text`` that no font here can draw (they would be empty boxes) and the
    Debian package to install, or None when every letter has a font. ``own``: our fonts (Roboto)."""
    letters = {ord(ch) for ch in text if unicodedata.category(ch)[0] in "LN" and not ch.isascii()}
    if not letters:
        return None
    if own is None:
        import font_roboto

        own = [Path(font_roboto.font_files["Roboto"])]
    files = [*own, *(f for d in (dirs if dirs is not None else font_dirs()) for f in _font_files(d))]
    for path in files:
        letters -= _covered(str(path), letters)
        if not letters:
            return None
    scripts = sorted({script_of(chr(c)) or "?" for c in letters})
    names = sorted({_SCRIPT_NAMES.get(s, s.title()) for s in scripts})
    packages = sorted({_PACKAGES.get(s, "fonts-noto-core") for s in scripts})
    sample = "".join(chr(c) for c in sorted(letters)[:3])
    return (f"warning: no font on this machine has the {' and '.join(names)} letters of the captions (e.g. {sample}): "
            f"they would show as empty boxes. Install one, e.g. `sudo apt-get install {' '.join(packages)}` "
            "on Debian or Ubuntu, and render again")  # fmt: skip


def font_file_for(text: str) -> Path | None:
    """A font file of this machine with every letter of ``text`` that Roboto lacks, for text drawn outside libass
    (the sketch cards); None when Roboto has them all, or no font here has them."""
    import font_roboto

    letters = {ord(ch) for ch in text if unicodedata.category(ch)[0] in "LN" and not ch.isascii()}
    letters -= _covered(font_roboto.font_files["Roboto"], letters)
    if not letters:
        return None
    return next((f for f in _preferred_files() if _covered(str(f), letters) == letters), None)


@cache
def _preferred_files() -> list[Path]:
    """The machine's font files, Noto Sans (CJK) and DejaVu Sans first, the regular weight first."""
    files = [f for d in font_dirs() for f in _font_files(d)]
    return sorted(files, key=lambda f: (not f.name.startswith("NotoSans"), not f.name.startswith("DejaVuSans"),
                                        "Regular" not in f.name and f.stem != "DejaVuSans", f.name))  # fmt: skip


def _font_files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".ttf", ".otf", ".ttc", ".otc"))
    except OSError:
        return []


def _covered(path: str, wanted: set[int]) -> set[int]:
    try:
        ranges = _cmap_ranges(path, os.path.getmtime(path))
    except (OSError, ValueError, struct.error):
        return set()
    starts = [lo for lo, _ in ranges]
    found = set()
    for c in wanted:
        k = bisect.bisect_right(starts, c) - 1
        if k >= 0 and c <= ranges[k][1]:
            found.add(c)
    return found


@cache
def _cmap_ranges(path: str, _mtime: float) -> tuple[tuple[int, int], ...]:
    """The character ranges a TrueType/OpenType font (the first of a collection) maps to glyphs, from its cmap
    table (format 12, else format 4)."""
    with open(path, "rb") as f:
        data = f.read(12)
        base = 0
        if data[:4] == b"ttcf":
            f.seek(12)
            base = struct.unpack(">I", f.read(4))[0]
        f.seek(base + 4)
        (num_tables,) = struct.unpack(">H", f.read(2))
        f.seek(base + 12)
        directory = f.read(16 * num_tables)
        for k in range(num_tables):
            tag, _, offset, length = struct.unpack(">4sIII", directory[16 * k : 16 * k + 16])
            if tag == b"cmap":
                f.seek(offset)
                cmap = f.read(length)
                break
        else:
            return ()
    _, n = struct.unpack(">HH", cmap[:4])
    subtables = {}
    for k in range(n):
        platform, encoding, offset = struct.unpack(">HHI", cmap[4 + 8 * k : 12 + 8 * k])
        subtables[(platform, encoding)] = offset
    for key in ((3, 10), (0, 6), (0, 4), (3, 1), (0, 3), (0, 1), (0, 0)):
        if key not in subtables:
            continue
        at = subtables[key]
        (fmt,) = struct.unpack(">H", cmap[at : at + 2])
        if fmt == 12:
            (groups,) = struct.unpack(">I", cmap[at + 12 : at + 16])
            return tuple(sorted(struct.unpack(">II", cmap[at + 16 + 12 * g : at + 24 + 12 * g]) for g in range(groups)))
        if fmt == 4:
            (seg2,) = struct.unpack(">H", cmap[at + 6 : at + 8])
            ends = struct.unpack(f">{seg2 // 2}H", cmap[at + 14 : at + 14 + seg2])
            starts = struct.unpack(f">{seg2 // 2}H", cmap[at + 16 + seg2 : at + 16 + 2 * seg2])
            return tuple(sorted((s, e) for s, e in zip(starts, ends, strict=True) if s != 0xFFFF))
    return ()
