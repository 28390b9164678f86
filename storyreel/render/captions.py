"""Caption files: ASS for libass to burn in (styled, placed clear of TikTok's buttons) and SRT to ship beside."""

from __future__ import annotations

import re
import unicodedata

from ..stages.language import IDEOGRAPHIC
from .timeline import Caption

FONT_NAME = "Roboto"
_IDEOGRAPH = re.compile(f"[{IDEOGRAPHIC}]")
# marks a line must not start with (closing) or end with (opening), in Chinese and Japanese typesetting
_NO_LINE_START = set("\u3001\u3002\uff0c\uff01\uff1f\uff1b\uff1a\u300d\u300f\u3009\u300b\u3011\uff09\u201d\u2019\u00bb\u2026\u30fc\u30fb)]},.!?;:")
_NO_LINE_END = set("\u300c\u300e\u3008\u300a\u3010\uff08\u201c\u2018\u00ab([{")


def _ass_time(t: float) -> str:
    cs = max(0, round(t * 100))
    return f"{cs // 360000}:{cs // 6000 % 60:02d}:{cs // 100 % 60:02d}.{cs % 100:02d}"


def _srt_time(t: float) -> str:
    ms = max(0, round(t * 1000))
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


_WJ = "\u2060"  # word joiner: invisible, and it keeps libass from reading "\N" or "{" as its own codes


def ass_escape(text: str) -> str:
    """Text that libass draws as written: its only codes are "{...}" override blocks and \\N, \\n, \\h."""
    text = re.sub(r"\s+", " ", text).strip()
    text = text.replace("\\", "\\" + _WJ)
    return text.replace("{", "\\{").replace("}", "\\}")


def _em(ch: str) -> float:
    """About how wide a character is, in font sizes (libass's size is a font's ascent + descent, ~1.45 em for Noto
    CJK): full-width (Chinese, Japanese, Korean) ~0.7, with room to spare for other fonts; others ~0.5."""
    return 0.75 if unicodedata.east_asian_width(ch) in "WF" else 0.25 if ch.isspace() else 0.5


def wrap_lines(text: str, max_em: float) -> list[str]:
    """Lines of at most ``max_em`` font sizes, cut between Chinese characters (which have no spaces for libass to
    wrap at) or at spaces, balanced so no line is left with a character or two. Text without Chinese characters
    stays one line: libass wraps it at its spaces."""
    text = re.sub(r"\s+", " ", text).strip()
    total = sum(_em(ch) for ch in text)
    if total <= max_em or not _IDEOGRAPH.search(text):
        return [text]
    # where a line may break: at a space, or between two characters either of which is a Chinese character
    breaks = {i for i in range(1, len(text))
              if (text[i] == " " or _IDEOGRAPH.match(text[i]) or _IDEOGRAPH.match(text[i - 1]))
              and text[i] not in _NO_LINE_START and text[i - 1] not in _NO_LINE_END}  # fmt: skip
    n = -(-total // max_em)
    while True:
        lines, start, width, target = [], 0, 0.0, total / n
        for i, ch in enumerate(text):
            width += _em(ch)
            if len(lines) < n - 1 and i + 1 in breaks and width + _em(text[i + 1]) > target:
                lines.append(text[start : i + 1].strip())
                start, width = i + 1, 0.0
        lines.append(text[start:].strip())
        if all(sum(_em(c) for c in line) <= max_em for line in lines) or n >= len(text):
            return [line for line in lines if line]
        n += 1


def _rtl(text: str) -> bool:
    """Text with right-to-left letters (Arabic, Hebrew, ...)."""
    return any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in text)


def ass_document(captions: list[Caption], width: int, height: int, scale: float = 1.0) -> str:
    # sizes relative to a 1080-wide frame; the bottom ~28% and right ~15% hold TikTok's caption and buttons
    unit = min(width, height) / 1080
    size = round(68 * unit * scale)
    margin_l = round(80 * unit)
    margin_r = round(width * 0.15) if height > width else round(80 * unit)
    margin_v = round(height * 0.28) if height > width else round(height * 0.10)
    outline, shadow = max(1, round(5 * unit)), max(0, round(2 * unit))
    lines = [
        "[Script Info]",
        "ScriptType: v4.00+",
        f"PlayResX: {width}",
        f"PlayResY: {height}",
        "WrapStyle: 0",
        "ScaledBorderAndShadow: yes",
        "YCbCr Matrix: TV.709",
        "",
        "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, "
        "Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, "
        "MarginL, MarginR, MarginV, Encoding",
        f"Style: Caption,{FONT_NAME},{size},&H00FFFFFF,&H00FFFFFF,&H00000000,&H80000000,-1,0,0,0,100,100,0,0,1,"
        f"{outline},{shadow},2,{margin_l},{margin_r},{margin_v},1",
    ]
    if any(_rtl(c.text) for c in captions):
        # Encoding -1: libass finds the paragraph's direction from its text, so a sentence in Arabic or Hebrew
        # reads right to left with its full stop, "!" and quotes at its left end (with 1 they land at the right)
        lines.append(f"Style: CaptionRTL,{FONT_NAME},{size},&H00FFFFFF,&H00FFFFFF,&H00000000,&H80000000,-1,0,0,0,"
                     f"100,100,0,0,1,{outline},{shadow},2,{margin_l},{margin_r},{margin_v},-1")  # fmt: skip
    lines += ["", "[Events]", "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text"]
    max_em = (width - margin_l - margin_r - 2 * outline) / size - 0.5  # half a character to spare
    for c in captions:
        text = "\\N".join(ass_escape(line) for line in wrap_lines(c.text, max_em))
        style = "CaptionRTL" if _rtl(c.text) else "Caption"
        lines.append(f"Dialogue: 0,{_ass_time(c.start)},{_ass_time(c.end)},{style},,0,0,0,,{text}")
    return "\n".join(lines) + "\n"


def srt_document(entries: list[Caption]) -> str:
    blocks = []
    for i, c in enumerate(entries, 1):
        text = re.sub(r"\s+", " ", c.text).strip()
        blocks.append(f"{i}\n{_srt_time(c.start)} --> {_srt_time(c.end)}\n{text}\n")
    return "\n".join(blocks)
