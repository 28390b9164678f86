"""Storyboard cards drawn with Pillow: check a whole video's timing, narration and captions without a model."""

from __future__ import annotations

import hashlib
import re
import textwrap
from functools import cache

from PIL import Image, ImageDraw, ImageFont

from ..stages.language import IDEOGRAPHIC
from ..types import ImageRequest
from .base import Defaults, ImageBackend, Progress, ShouldStop


def font(size: int, bold: bool = False, text: str = "") -> ImageFont.FreeTypeFont:
    """Roboto; for ``text`` with letters Roboto lacks (Chinese, Arabic, ...), a font of the machine that has them."""
    from ..render.fonts import font_file_for

    other = font_file_for(text) if text and not text.isascii() else None
    return _font(size, bold, str(other) if other else None)


@cache
def _font(size: int, bold: bool, path: str | None) -> ImageFont.FreeTypeFont:
    import font_roboto

    return ImageFont.truetype(path or font_roboto.font_files["RobotoBold" if bold else "Roboto"], size)


_IDEOGRAPH = re.compile(f"[{IDEOGRAPHIC}]")


def _palette(seed: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    h = hashlib.sha256(str(seed).encode()).digest()
    top = (40 + h[0] % 60, 40 + h[1] % 60, 60 + h[2] % 80)
    bottom = (h[3] % 40, h[4] % 40, 20 + h[5] % 50)
    return top, bottom


class SketchBackend(ImageBackend):
    name = "sketch"
    model_id = "sketch"

    def __init__(self, model: str | None = None, **_: object) -> None:
        pass

    def defaults(self) -> Defaults:
        return Defaults(steps=1, guidance=0.0, width=576, height=1024, native=576)

    def generate(
        self, requests: list[ImageRequest], progress: Progress | None = None, should_stop: ShouldStop | None = None
    ) -> list[Image.Image]:
        out = []
        for i, req in enumerate(requests):
            out.append(self.card(req))
            if progress:
                progress((i + 1) / len(requests))
        return out

    def card(self, req: ImageRequest) -> Image.Image:
        w, h = req.width, req.height
        top, bottom = _palette(req.seed * 1000 + req.scene)
        img = Image.new("RGB", (w, h))
        draw = ImageDraw.Draw(img)
        for y in range(h):  # a vertical gradient, different for every seed
            t = y / max(1, h - 1)
            draw.line([(0, y), (w, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
        unit = max(8, min(w, h) // 18)
        pad = max(unit, int(w * 0.1))  # clear of what the Ken Burns motion crops
        big, small = font(int(unit * 2.2), bold=True), font(unit)
        title = f"Scene {req.scene}" if req.scene else ", ".join(n for n, _ in req.characters) or "Portrait"
        draw.text((pad, pad), title, font=big, fill=(255, 255, 255))
        draw.text((pad, pad + int(unit * 2.5)), f"seed {req.seed}", font=small, fill=(200, 200, 200))
        y = pad + int(unit * 4.2)
        names = ", ".join(n for n, _ in req.characters)
        if names:
            draw.text((pad, y), names, font=font(unit, True, names), fill=(255, 214, 102))
            y += int(unit * 1.6)
        # the prompt, with each character's words in yellow
        marked = {p.strip() for _, words in req.characters for p in words.split(",") if p.strip()}
        cols = max(10, int((w - 2 * pad) / (unit * 0.5)))
        pieces = [p.strip() for p in req.prompt.split(", ") if p.strip()]
        for piece in pieces:
            colour = (255, 214, 102) if piece in marked else (235, 235, 235)
            wide = _IDEOGRAPH.search(piece)  # Chinese characters are twice as wide, with no spaces to wrap at
            per_line = max(1, cols // 2 - 1)
            lines = [piece[k : k + per_line] for k in range(0, len(piece), per_line)] if wide else textwrap.wrap(piece, cols)
            for line in lines:
                if y > h - 3 * unit:
                    break
                draw.text((pad, y), line, font=font(unit, False, line), fill=colour)
                y += int(unit * 1.25)
        # labels at the top: the bottom of the frame belongs to the captions
        label = "sketch"
        lw = draw.textlength(label, font=font(unit, bold=True))
        draw.text((w - pad - lw, pad), label, font=font(unit, bold=True), fill=(255, 120, 120))
        return img
