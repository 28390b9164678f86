"""storyreel: a story in, a narrated vertical video of Stable Diffusion pictures out, characters kept consistent.

The public API (what the CLI and the studio call)::

    import storyreel
    scenes, characters = storyreel.analyse(open("story.md").read())
    storyreel.make("story.md", "out/story.mp4")
"""

import logging as _logging
import os as _os

# OpenCV reads its log level once, when cv2 is imported (stages.video, render.motion): without this a picture it
# cannot open prints a "[ WARN:0@..." line of its own before our one-line error says what to do
_os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

from .errors import (
    BackendError,
    Cancelled,
    InputError,
    ModelNotFoundError,
    RenderError,
    StoreError,
    StoryError,
    StoryreelError,
    TTSError,
)
from .pipeline import Options, analyse, generate, make, render, update_story
from .stages.characters import attribute_scenes, find_characters
from .stages.prompts import compose_prompt
from .stages.scenes import split_scenes
from .stages.story import parse_story, read_story
from .store.db import Project
from .types import Character, ImageRequest, Mention, Prompt, Scene, Speech, Story, WordTiming

__version__ = "0.1.0"

# a library's log lines go where its user sends them (`storyreel worker` prints them); unconfigured, Python would
# print each failed batch's warning to stderr beside the one-line error that already sums them up
_logging.getLogger(__name__).addHandler(_logging.NullHandler())

__all__ = [
    "BackendError", "Cancelled", "Character", "ImageRequest", "InputError", "Mention", "ModelNotFoundError",
    "Options", "Project", "Prompt", "RenderError", "Scene", "Speech", "StoreError", "Story", "StoryError",
    "StoryreelError", "TTSError", "WordTiming", "analyse", "attribute_scenes", "compose_prompt",
    "find_characters", "generate", "make", "parse_story", "read_story", "render", "split_scenes",
    "update_story",
]  # fmt: skip
