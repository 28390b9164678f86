"""Plain data passed between the stages."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Block:
    """A stretch of the story to narrate: a paragraph of prose, or the speech of one script line."""

    start: int
    end: int
    visual: str | None = None  # what to draw, when the story says it ("Speaker: speech | visual")
    speaker: str | None = None


@dataclass(frozen=True)
class Line:
    """A script line, ``Speaker: speech | what to draw``, for the character finder: offsets into the story text."""

    start: int  # the speech
    end: int
    speaker: str | None = None  # who says it; None for the narrator
    visual_start: int = -1  # where what to draw is (-1: nothing)
    visual: str = ""


@dataclass(frozen=True)
class Story:
    text: str  # the file's text as decoded; every offset points into it
    form: str  # "prose" or "script"
    blocks: tuple[Block, ...]


@dataclass
class Scene:
    index: int  # 0-based position in the story
    start: int
    end: int
    text: str  # what the narrator says
    visual: str  # what to draw
    speaker: str | None = None
    id: str = ""  # stable id, assigned by the project store
    characters: list[str] = field(default_factory=list)  # character ids, in order of appearance
    locked: bool = False  # the user protects its pick and candidates from any regeneration
    extra: int = 0  # candidates asked for beyond the project's number ("More")


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    text: str
    type: str = "name"  # name | description | pronoun
    passing: bool = False  # only a possessor ("the king's daughter"): not drawn unless the user adds it


@dataclass
class Character:
    id: str
    name: str
    mentions: list[Mention] = field(default_factory=list)
    prompt: str = ""  # prompt words, e.g. "grey hair, silver armor"
    negative: str = ""
    gender: str | None = None  # m | f | n (creature or thing) | None
    number: str = "sg"  # sg | pl
    edited: bool = False  # the user wrote the prompt words: keep them when the story changes
    seed: int | None = None  # the seed of its portraits, fixed so a preview changes only with its words
    reference: str | None = None  # media name of the portrait chosen as its reference picture
    minor: bool = False  # found by the finder but not one to draw (known by pronouns only): not in a project


@dataclass(frozen=True)
class Prompt:
    positive: str
    negative: str
    tokens: int  # estimated CLIP tokens of the positive prompt
    truncated: str = ""  # the words beyond the CLIP window (empty when it fits)


@dataclass(frozen=True)
class ImageRequest:
    prompt: str
    negative: str
    seed: int
    steps: int
    guidance: float
    width: int
    height: int
    # for backends that draw storyboards: the scene's number and its characters' (name, prompt words)
    scene: int = 0
    characters: tuple[tuple[str, str], ...] = ()
    # for a backend that takes a reference picture (a ComfyUI workflow with "$reference"): the media name of the
    # scene's first character's reference picture (its file's hash, so a new reference makes new pictures); the
    # worker gives the backend its path
    reference: str = ""


@dataclass(frozen=True)
class WordTiming:
    text: str
    start: float  # seconds from the start of the scene's narration
    end: float


@dataclass(frozen=True)
class Speech:
    """What a TTS engine returns: a mono WAV and the time span of each word."""

    wav: bytes
    sample_rate: int
    duration: float
    words: tuple[WordTiming, ...]
