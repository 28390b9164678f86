"""Caption files: ASS for libass to burn in (styled, placed clear of TikTok's buttons) and SRT to ship beside."""

from __future__ import annotations

import re

from .timeline import Caption

FONT_NAME = "Roboto"


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
        "",
        "[Events]",
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
    ]
    for c in captions:
        lines.append(f"Dialogue: 0,{_ass_time(c.start)},{_ass_time(c.end)},Caption,,0,0,0,,{ass_escape(c.text)}")
    return "\n".join(lines) + "\n"


def srt_document(entries: list[Caption]) -> str:
    blocks = []
    for i, c in enumerate(entries, 1):
        text = re.sub(r"\s+", " ", c.text).strip()
        blocks.append(f"{i}\n{_srt_time(c.start)} --> {_srt_time(c.end)}\n{text}\n")
    return "\n".join(blocks)
