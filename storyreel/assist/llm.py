"""A writing assistant on any OpenAI-compatible chat completions server (OpenAI, Ollama, vLLM, llama.cpp's server,
LM Studio): structured JSON replies, validated, asked again once when malformed. Everything else in storyreel works
without it.

The key comes from ``STORYREEL_LLM_KEY`` (for any server) or ``OPENAI_API_KEY`` (sent to OpenAI's servers only) and
goes only in the request's bearer token: never written to a project, a log or an error message (a reply that quotes
it has it replaced by ``***``).
"""

from __future__ import annotations

import json
import os
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, ValidationError

from ..backends.http import Server, public_url
from ..errors import BackendError, InputError

KEY_ENVS = ("STORYREEL_LLM_KEY", "OPENAI_API_KEY")
TIMEOUT_S = 300.0
T = TypeVar("T", bound=BaseModel)


class Line(BaseModel):
    speaker: str = Field(default="Narrator", description="Narrator, or the character who says the line")
    text: str = Field(min_length=1, description="what is narrated or said: one or two sentences")
    draw: str = Field(min_length=1, description="what the picture shows, naming the characters in it")


class Script(BaseModel):
    title: str = Field(min_length=1)
    lines: list[Line] = Field(min_length=1)


def api_key(url: str = "") -> str | None:
    """STORYREEL_LLM_KEY for any server; OPENAI_API_KEY for OpenAI's only (never sent to another server)."""
    if os.environ.get("STORYREEL_LLM_KEY"):
        return os.environ["STORYREEL_LLM_KEY"]
    host = urlsplit(url).hostname or ""
    return os.environ.get("OPENAI_API_KEY") or None if host == "openai.com" or host.endswith(".openai.com") else None


class _ModelServer(Server):
    """An OpenAI-compatible server: its key as a bearer token, and no reply that names the key shows it."""

    slow_hint = "try a smaller model or fewer scenes"

    def headers(self) -> dict[str, str]:
        key = api_key(self.url)
        return {"Authorization": f"Bearer {key}"} if key else {}

    def unauthorized(self) -> str:
        return f"{self.name} refused the key: set STORYREEL_LLM_KEY (or OPENAI_API_KEY) to a valid one"

    def refused(self, reply: Any) -> Any:
        try:
            super().refused(reply)
        except BackendError as err:
            raise BackendError(_scrub(str(err))) from None


def _scrub(text: str) -> str:
    for env in KEY_ENVS:
        if os.environ.get(env):
            text = text.replace(os.environ[env], "***")
    return text


class Assistant:
    """A chat completions client that asks for JSON of a pydantic model's shape."""

    def __init__(self, url: str | None, model: str | None) -> None:
        if not url:
            raise InputError("the writing assistant needs --llm-url (the studio: Settings, Writing assistant): an "
                             "OpenAI-compatible server, e.g. http://127.0.0.1:11434/v1 (Ollama) or "
                             "https://api.openai.com/v1")  # fmt: skip
        if not model:
            raise InputError("the writing assistant needs --llm-model (the studio: Settings, Writing assistant): the "
                             "model's name on that server, e.g. llama3.1")  # fmt: skip
        self.url = public_url(url, "--llm-url")
        self.model = model
        self.server = _ModelServer(self.url, "language model", KEY_ENVS[0], "start it, or check --llm-url",
                                   option="--llm-url", timeout=TIMEOUT_S)  # fmt: skip

    def _chat(self, messages: list[dict[str, str]], temperature: float) -> str:
        body = {"model": self.model, "messages": messages, "temperature": temperature,
                "response_format": {"type": "json_object"}}  # fmt: skip
        reply = self.server.call("POST", "/chat/completions", json=body)
        try:
            return str(reply["choices"][0]["message"]["content"])
        except (KeyError, IndexError, TypeError):
            raise BackendError(f"{self.server.name} did not answer as a chat completions server does: is --llm-url "
                               "its /v1 address?") from None  # fmt: skip

    def ask(self, shape: type[T], instructions: str, request: str, temperature: float = 0.8) -> T:
        """The model's answer as ``shape``; a malformed answer is asked again once, saying what was wrong."""
        schema = json.dumps(shape.model_json_schema())
        messages = [{"role": "system", "content": f"{instructions}\nAnswer with one JSON object only, of this JSON "
                                                  f"schema: {schema}"},
                    {"role": "user", "content": request}]  # fmt: skip
        problem = ""
        for _ in range(2):
            content = self._chat(messages, temperature)
            try:
                return shape.model_validate_json(_json_part(content))
            except (ValidationError, ValueError) as err:
                problem = _first_problem(err)
                messages += [{"role": "assistant", "content": content},
                             {"role": "user", "content": f"That was not valid: {problem}. Answer again with the "
                                                         "JSON object only."}]  # fmt: skip
        raise BackendError(f"the language model {self.model} twice gave an answer storyreel cannot use ({problem}): "
                           "try another model, or write the story yourself")  # fmt: skip


def _json_part(content: str) -> str:
    """The JSON object in a reply (some models wrap it in ``` fences or a sentence)."""
    start, end = content.find("{"), content.rfind("}")
    return content[start : end + 1] if 0 <= start < end else content


def _first_problem(err: Exception) -> str:
    if isinstance(err, ValidationError):
        e = err.errors()[0]
        return f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" if e.get("loc") else e["msg"]
    return "not JSON"


WRITER = ("You write short stories for narrated vertical videos: myths, legends, fairy tales. Write in plain, vivid "
          "English. Each line is one scene: 'text' is what the narrator (or a character) says, one or two sentences; "
          "'draw' is what the scene's picture shows, naming the characters in it by name and saying what they look "
          "like the first time. Keep every character's look the same from scene to scene.")  # fmt: skip


def write_story(topic: str, scenes: int, assistant: Assistant) -> str:
    """A story about ``topic`` in storyreel's scripted form: a title, then ``Speaker: text | what to draw`` lines."""
    if not topic.strip():
        raise InputError('give a topic: storyreel write "a fox who outwits a crow"')
    if not 1 <= scenes <= 60:
        raise InputError(f"--scenes {scenes}: give 1 to 60 scenes")
    script = assistant.ask(Script, WRITER, f"Write a story of exactly {scenes} scenes about: {topic.strip()}")
    lines = [f"# {_flat(script.title)}", ""]
    for line in script.lines:
        speaker = _flat(line.speaker).replace(":", "").replace("|", "/") or "Narrator"
        lines.append(f"{speaker}: {_flat(line.text).replace('|', '/')} | {_flat(line.draw).replace('|', '/')}")
    return "\n".join(lines) + "\n"


def _flat(text: Any) -> str:
    return " ".join(str(text).split())


class SceneDrawing(BaseModel):
    scene: int = Field(description="the scene's number, as given")
    draw: str = Field(min_length=1, description="what its picture shows, naming the characters in it")


class Drawings(BaseModel):
    scenes: list[SceneDrawing] = Field(min_length=1)


class Looks(BaseModel):
    words: str = Field(min_length=1, description="comma-separated words for the picture: looks, clothes, age")


ILLUSTRATOR = ("You are the illustrator of a picture book. For each numbered scene of the story, say in one line what "
               "its picture shows: who is there (by the names given), what they do, where. No art style words.")
DESIGNER = ("You design a character of a story for its pictures. From what the story says of them, give 4 to 10 "
            "comma-separated words for how they look (kind, age, hair, clothes, colours); invent what the story does "
            "not say, in keeping with it. No art style words.")  # fmt: skip


def describe_scenes(scenes: list[Any], characters: list[Any], assistant: Assistant) -> dict[str, str]:
    """What each scene's picture shows, in the model's words, by scene id; the characters keep their names, so their
    prompt words are still put in."""
    names = {c.id: c.name for c in characters}
    lines = [f"{i + 1}. {_flat(s.text)} (in it: {', '.join(names.get(c, c) for c in s.characters) or 'nobody'})"
             for i, s in enumerate(scenes)]  # fmt: skip
    answer = assistant.ask(Drawings, ILLUSTRATOR, "\n".join(lines), temperature=0.4)
    out = {}
    for d in answer.scenes:
        if 1 <= d.scene <= len(scenes):
            out[scenes[d.scene - 1].id] = _flat(d.draw).replace("|", "/")
    if not out:
        raise BackendError(f"the language model {assistant.model} described none of the scenes: try another model")
    return out


def describe_character(character: Any, story_text: str, assistant: Assistant) -> str:
    """Prompt words for a character, from the sentences that mention it."""
    said = sorted({_sentence(story_text, m.start) for m in character.mentions})[:12]
    request = f"The character: {character.name}.\nWhat the story says:\n" + "\n".join(f"- {s}" for s in said)
    words = [w.strip() for w in assistant.ask(Looks, DESIGNER, request, temperature=0.4).words.split(",")]
    return ", ".join(w for w in words if w)[:300]


def _sentence(text: str, at: int) -> str:
    start = max(text.rfind(".", 0, at), text.rfind("\n", 0, at)) + 1
    ends = [i for i in (text.find(".", at), text.find("\n", at)) if i >= 0]
    return _flat(text[start : (min(ends) + 1) if ends else len(text)])
