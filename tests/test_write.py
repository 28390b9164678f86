"""`storyreel write` against a local server that answers as an OpenAI-compatible chat completions API does:
what storyreel sends, valid, malformed, failing and slow replies, and the key kept out of everything written."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import run_cli, send_reply

from storyreel.stages.story import parse_story
from storyreel.store.db import Project

KEY = "sk-test-0123456789abcdef"
GOOD = {"title": "The Fox and the Crow", "lines": [
    {"speaker": "Narrator", "text": "Corvo the crow sat in an oak with a piece of cheese.",
     "draw": "Corvo, a glossy black crow, on an oak branch holding cheese"},
    {"speaker": "Rusty", "text": "What a voice you must have, Corvo!",
     "draw": "Rusty, a slim red fox, looking up at Corvo in the oak"},
    {"speaker": "Narrator", "text": "Corvo sang, the cheese fell, and Rusty ran off with it.",
     "draw": "Rusty running away with the cheese, Corvo cawing on the branch"},
]}  # fmt: skip


class FakeLLM:
    """POST /v1/chat/completions as OpenAI's API answers it; ``replies`` are its message contents, in turn."""

    def __init__(self, replies: list[str], status: int = 200, slow: float = 0.0) -> None:
        self.replies, self.status, self.slow = list(replies), status, slow
        self.requests: list[tuple[dict, dict]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append((dict(self.headers), body))
                time.sleep(fake.slow)
                if self.path != "/v1/chat/completions":
                    data, code = {"error": {"message": "Not found"}}, 404
                elif fake.status != 200:
                    data, code = {"error": {"message": f"model overloaded (key {KEY})", "type": "server_error"}}, \
                        fake.status  # fmt: skip
                else:
                    content = fake.replies.pop(0) if fake.replies else json.dumps(GOOD)
                    data, code = {"id": "c1", "object": "chat.completion", "model": body["model"], "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}]}, 200  # fmt: skip
                send_reply(self, code, data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def llm_env():
    return {"STORYREEL_LLM_KEY": KEY}


def test_write_drafts_a_script_that_storyreel_reads_as_one(tmp_path, llm_env):
    fake = FakeLLM([json.dumps(GOOD)])
    try:
        out = tmp_path / "fox.txt"
        run = run_cli("write", "a fox who outwits a crow", "--scenes", "3", "-o", out, "--llm-url", fake.url,
                      "--llm-model", "llama3.1", env=llm_env)  # fmt: skip
        assert run.code == 0, run.stderr
        headers, body = fake.requests[0]
        assert headers["Authorization"] == f"Bearer {KEY}"
        assert body["model"] == "llama3.1" and body["response_format"] == {"type": "json_object"}
        assert "exactly 3 scenes" in body["messages"][-1]["content"] and "fox who outwits" in body["messages"][-1]["content"]
        text = out.read_text(encoding="utf-8")
        assert text.splitlines()[0] == "# The Fox and the Crow"
        assert "Rusty: What a voice you must have, Corvo! | Rusty, a slim red fox" in text
        story = parse_story(text)
        assert story.form == "script" and len(story.blocks) == 3
        assert KEY not in text + run.stdout + run.stderr
        # the draft is a story storyreel makes: its characters are found in it
        chars = run_cli("characters", out, "--json")
        assert chars.code == 0, chars.stderr
        names = {c["name"] for c in json.loads(chars.stdout)["characters"] if not c["minor"]}
        assert {"Corvo", "Rusty"} <= names
    finally:
        fake.close()


def test_a_malformed_reply_is_asked_again_once(tmp_path, llm_env):
    fake = FakeLLM(["Sure! Here is your story: Once upon a time...", "```json\n" + json.dumps(GOOD) + "\n```"])
    try:
        out = tmp_path / "fox.txt"
        run = run_cli("write", "a fox", "-o", out, "--llm-url", fake.url, "--llm-model", "m", env=llm_env)
        assert run.code == 0, run.stderr
        assert len(fake.requests) == 2
        again = fake.requests[1][1]["messages"]
        assert again[-1]["role"] == "user" and "not valid" in again[-1]["content"]
        assert out.read_text(encoding="utf-8").startswith("# The Fox and the Crow")
    finally:
        fake.close()
    fake = FakeLLM(['{"title": "x"}', '{"title": "x", "lines": []}'])
    try:
        run = run_cli("write", "a fox", "-o", tmp_path / "b.txt", "--llm-url", fake.url, "--llm-model", "m",
                      env=llm_env)  # fmt: skip
        assert run.code == 1 and "Traceback" not in run.stderr
        assert "twice gave an answer storyreel cannot use (lines" in run.stderr
        assert not (tmp_path / "b.txt").exists()
    finally:
        fake.close()


def test_failures_are_one_line_and_never_show_the_key(tmp_path, llm_env, monkeypatch):
    fake = FakeLLM([], status=500)
    try:
        run = run_cli("write", "a fox", "-o", tmp_path / "a.txt", "--llm-url", fake.url, "--llm-model", "m",
                      env=llm_env)  # fmt: skip
        assert run.code == 1 and "Traceback" not in run.stderr
        assert "failed (500): model overloaded (key ***)" in run.stderr and KEY not in run.stderr
    finally:
        fake.close()
    run = run_cli("write", "a fox", "-o", tmp_path / "a.txt", "--llm-url", "http://127.0.0.1:9/v1",
                  "--llm-model", "m", env=llm_env)  # fmt: skip
    assert run.code == 1 and "cannot reach the language model server at http://127.0.0.1:9/v1" in run.stderr
    run = run_cli("write", "a fox", "-o", tmp_path / "a.txt", env=llm_env)
    assert run.code == 1 and "needs --llm-url" in run.stderr
    (tmp_path / "mine.txt").write_text("my own story", encoding="utf-8")
    run = run_cli("write", "a fox", "-o", tmp_path / "mine.txt", "--llm-url", "http://x/v1", "--llm-model", "m")
    assert run.code == 1 and "--force" in run.stderr
    assert (tmp_path / "mine.txt").read_text(encoding="utf-8") == "my own story"
    # a slow server: the assistant's own time limit, one line
    fake = FakeLLM([], slow=2.0)
    try:
        from storyreel.assist import llm
        from storyreel.errors import BackendError

        monkeypatch.setattr(llm, "TIMEOUT_S", 0.5)
        monkeypatch.setenv("STORYREEL_LLM_KEY", KEY)
        with pytest.raises(BackendError, match="did not answer in time"):
            llm.write_story("a fox", 3, llm.Assistant(fake.url, "m"))
    finally:
        fake.close()


FABLE = ("Corvo the crow sat in an oak with a piece of cheese. Rusty the fox came by at noon. He praised her voice "
         "for a long time. She opened her beak to sing, and the cheese fell. Rusty ran off with it.\n")
READ = {"characters": [
    {"name": "Corvo", "words": "glossy black crow", "mentions": [
        {"text": "Corvo the crow", "start": 0}, {"text": "her", "start": 3}, {"text": "She"}, {"text": "her"},
        {"text": "the eagle", "start": 10}]},
    {"name": "Rusty", "words": "slim red fox, bushy tail", "mentions": [
        {"text": "Rusty the fox", "start": 53}, {"text": "He", "start": 90}, {"text": "Rusty"}]},
]}  # fmt: skip


def _characters_by_llm(tmp_path, fake, env):
    path = tmp_path / "fable.txt"
    path.write_text(FABLE, encoding="utf-8")
    return run_cli("characters", path, "--json", "--coref", "llm", "--llm-url", fake.url, "--llm-model", "m", env=env)


def test_coref_llm_places_the_models_mentions_in_the_text(tmp_path, llm_env):
    fake = FakeLLM([json.dumps(READ)])
    try:
        run = _characters_by_llm(tmp_path, fake, llm_env)
        assert run.code == 0, run.stderr
        data = json.loads(run.stdout)
        chars = {c["id"]: c for c in data["characters"]}
        assert set(chars) == {"corvo", "rusty"}
        assert chars["rusty"]["prompt"] == "slim red fox, bushy tail"
        for c in chars.values():  # every mention is where the text has it
            for m in c["mentions"]:
                assert FABLE[m["start"] : m["end"]] == m["text"]
        assert [m["text"] for m in chars["corvo"]["mentions"]] == ["Corvo the crow", "her", "She", "her"]
        assert [m["text"] for m in chars["rusty"]["mentions"]] == ["Rusty the fox", "He", "Rusty"]
        he_praised = next(s for s in data["scenes"] if s["text"].startswith("He praised"))
        assert sorted(he_praised["characters"]) == ["corvo", "rusty"]  # a scene of pronouns only
        assert KEY not in run.stdout + run.stderr
        assert FABLE.strip() in fake.requests[0][1]["messages"][-1]["content"]
    finally:
        fake.close()


def test_coref_llm_falls_back_to_the_rules_with_a_note(tmp_path, llm_env):
    fake = FakeLLM(["no", "still no"])
    try:
        run = _characters_by_llm(tmp_path, fake, llm_env)
        assert run.code == 0, run.stderr
        assert "the language model could not be used" in run.stderr and "rules engine found" in run.stderr
        assert {"corvo", "rusty"} <= {c["id"] for c in json.loads(run.stdout)["characters"]}
    finally:
        fake.close()
    run = run_cli("characters", tmp_path / "fable.txt", "--coref", "llm")
    assert run.code == 1 and "needs --llm-url" in run.stderr and "Traceback" not in run.stderr


def test_an_openai_key_goes_to_openai_only_and_a_bar_stays_in_its_line(tmp_path):
    bar = {"title": "T", "lines": [{"speaker": "Narrator", "text": "Rain | wind.", "draw": "a hut | a tree"}]}
    fake = FakeLLM([json.dumps(bar)])
    try:
        run = run_cli("write", "a storm", "-o", tmp_path / "s.txt", "--llm-url", fake.url, "--llm-model", "m",
                      "--scenes", "1", env={"OPENAI_API_KEY": KEY, "STORYREEL_LLM_KEY": ""})  # fmt: skip
        assert run.code == 0, run.stderr
        assert "Authorization" not in fake.requests[0][0]  # a local server never gets the OpenAI key
        line = (tmp_path / "s.txt").read_text(encoding="utf-8").splitlines()[2]
        assert line == "Narrator: Rain / wind. | a hut / a tree"
    finally:
        fake.close()


def test_describe_writes_what_each_scene_shows_and_a_characters_look(tmp_path, llm_env):
    path = tmp_path / "fable.txt"
    path.write_text(FABLE, encoding="utf-8")
    assert run_cli("new", path, "--project", tmp_path / "p").code == 0
    project = Project(tmp_path / "p")
    n = len(project.scenes())
    drawings = {"scenes": [{"scene": i + 1, "draw": f"picture {i + 1}: Corvo and Rusty by the oak"} for i in range(n)]}
    fake = FakeLLM([json.dumps(drawings), json.dumps({"words": "glossy black crow, bright eyes, , tiny crown"})])
    try:
        run = run_cli("describe", tmp_path / "p", "--llm-url", fake.url, "--llm-model", "m", env=llm_env)
        assert run.code == 0, run.stderr
        asked = fake.requests[0][1]["messages"][-1]["content"]
        assert "1. Corvo the crow sat in an oak" in asked and "(in it: Corvo" in asked
        scenes = Project(tmp_path / "p").scenes()
        assert [s.visual for s in scenes] == [f"picture {i + 1}: Corvo and Rusty by the oak"
                                              for i in range(n)]  # fmt: skip
        shown = run_cli("prompt", tmp_path / "p", "1", "picture 1: Corvo and Rusty by the oak")
        assert "picture 1: Corvo and Rusty by the oak" in shown.stdout
        # remembered server and model: a character's look, asked with the sentences that say it
        run = run_cli("describe", tmp_path / "p", "--character", "corvo", env=llm_env)
        assert run.code == 0, run.stderr
        asked = fake.requests[1][1]["messages"][-1]["content"]
        assert "The character: Corvo" in asked and "She opened her beak to sing" in asked
        corvo = next(c for c in Project(tmp_path / "p").characters() if c.id == "corvo")
        assert (corvo.prompt, corvo.edited) == ("glossy black crow, bright eyes, tiny crown", True)
        assert not [f for f in (tmp_path / "p").rglob("*") if f.is_file() and KEY.encode() in f.read_bytes()]
    finally:
        fake.close()
