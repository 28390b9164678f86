"""Prompts: global style + every present character's words + what to draw + style suffix."""

from __future__ import annotations

import re

from ..types import Character, Prompt, Scene

DEFAULT_STYLE = "high quality, detailed digital illustration"
DEFAULT_NEGATIVE = "blurry, low quality, deformed, extra limbs, bad anatomy, text, watermark, signature"
# what the studio's style presets put before every prompt
STYLE_PRESETS = {
    "storybook watercolor": "storybook illustration, soft watercolor, gentle colors, detailed, whimsical",
    "cinematic": "cinematic still, dramatic lighting, film grain, shallow depth of field, highly detailed",
    "anime": "anime style, cel shading, vibrant colors, detailed background, studio anime",
    "comic": "comic book art, bold ink lines, halftone shading, vivid flat colors",
    "none": "",
}
# CLIP reads 77 tokens: a start and an end token and 75 for the prompt.
CLIP_WINDOW = 75

# CLIP's BPE keeps common words whole and cuts rare ones; this estimate errs on the side of counting more.
_PIECE = re.compile(r"[^\W\d_]+|\d|[^\w\s]", re.UNICODE)


def count_tokens(text: str) -> int:
    n = 0
    for piece in _PIECE.findall(text.lower()):
        if piece.isalpha():
            n += 1 if len(piece) <= 8 else 1 + (len(piece) - 8 + 4) // 5
            if not piece.isascii():
                n += len(piece) // 2  # non-Latin scripts split into many byte tokens
        else:
            n += 1
    return n


def _cut(text: str, budget: int) -> tuple[str, str]:
    """Split text at the word where the token budget runs out: (kept, dropped)."""
    words = text.split(" ")
    used = 0
    for i, w in enumerate(words):
        used += count_tokens(w)
        if used > budget:
            return " ".join(words[:i]).rstrip(", "), " ".join(words[i:])
    return text, ""


def compose_prompt(
    scene: Scene,
    characters: dict[str, Character] | list[Character],
    style: str = DEFAULT_STYLE,
    negative: str = DEFAULT_NEGATIVE,
    style_suffix: str = "",
    visual: str | None = None,
) -> Prompt:
    """The scene's image prompt. Character words come before the scene text so a long scene cannot push them
    out of the CLIP window; what does not fit is reported in ``Prompt.truncated``."""
    by_id = characters if isinstance(characters, dict) else {c.id: c for c in characters}
    parts = [style.strip()] if style.strip() else []
    negs = [negative.strip()] if negative.strip() else []
    for cid in scene.characters:
        ch = by_id.get(cid)
        if ch is None:
            continue
        if ch.prompt.strip():
            parts.append(ch.prompt.strip())
        if ch.negative.strip():
            negs.append(ch.negative.strip())
    parts.append((visual if visual is not None else scene.visual).strip())
    if style_suffix.strip():
        parts.append(style_suffix.strip())
    positive = ", ".join(p.strip(" ,") for p in parts if p.strip(" ,"))
    tokens = count_tokens(positive)
    kept, dropped = _cut(positive, CLIP_WINDOW)
    return Prompt(positive=positive, negative=", ".join(negs), tokens=tokens, truncated=dropped if dropped else "")


PORTRAIT = "portrait, alone, plain background"


def compose_portrait(character: Character, style: str = DEFAULT_STYLE, negative: str = DEFAULT_NEGATIVE) -> Prompt:
    """A character alone, to preview how its words look: style + its words (or its name) + "portrait"."""
    scene = Scene(index=-1, start=0, end=0, text=character.name, visual=PORTRAIT, characters=[character.id])
    if not character.prompt.strip():
        scene.visual = f"{character.name}, {PORTRAIT}"
    return compose_prompt(scene, {character.id: character}, style=style, negative=negative)
