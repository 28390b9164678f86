"""Stories in other languages: the voice, the sentences, the captions and the characters follow the story's language."""

from __future__ import annotations

import re
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import THREE_SCENES, frame_at, parse_srt

from storyreel.render.captions import ass_document
from storyreel.render.ffmpeg import ffmpeg_exe
from storyreel.render.fonts import missing_font_warning
from storyreel.render.timeline import Caption
from storyreel.stages.language import detect_language

FRENCH = """Il était une fois, dans un petit village au bord de la mer, une vieille femme qui s'appelait Marie.
Chaque matin, elle regardait les bateaux partir vers le large. « Un jour, je partirai aussi. Je verrai le monde
entier ! » disait-elle à son chat. M. Dupont, le boulanger du village, riait d'elle. Qui est là ? demanda-t-elle
un soir d'hiver. C'était un marin perdu dans la tempête.
"""

CHINESE = """从前，有一个小村庄，村里住着一位老奶奶。她每天早上都去河边洗衣服。有一天，她看见一只大桃子漂了过来！
她说：「这么大的桃子，我要带回家给爷爷吃。你看，多漂亮！」爷爷看见桃子，非常高兴。他们正要切开桃子，桃子突然裂开了，
里面跳出一个胖胖的男孩。「别怕，我是桃太郎！」男孩笑着说。
"""
QUOTES = ["「这么大的桃子，我要带回家给爷爷吃。你看，多漂亮！」", "「别怕，我是桃太郎！」"]

ARABIC = """كان يا ما كان، في قديم الزمان، صياد فقير يعيش مع زوجته قرب البحر. في يوم من الأيام، رمى شبكته في الماء.
هل تعرف ماذا وجد؟ وجد سمكة ذهبية تتكلم! قالت السمكة: «أطلقني وسأحقق لك أمنية». فأطلقها الصياد وعاد إلى بيته.
"""

ENGLISH_ONLY = "characters are found in English stories only"


def _story(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _voices(project: Path) -> set[tuple[str, str]]:
    with sqlite3.connect(f"file:{project / 'project.db'}?mode=ro", uri=True) as db:
        return set(db.execute("SELECT engine, voice FROM narrations"))


def _scene_texts(cli, story: Path, *args: str) -> list[str]:
    import json

    run = cli("characters", story, "--json", *args)
    assert run.code == 0, run.stderr
    return [s["text"] for s in json.loads(run.stdout)["scenes"]]


def test_languages_are_told_from_the_text():
    assert detect_language(FRENCH) == "fr"
    assert detect_language(CHINESE) == "zh"
    assert detect_language(ARABIC) == "ar"
    assert detect_language("昔々、ある村にお爺さんとお婆さんが住んでいました。") == "ja"
    assert detect_language("Es war einmal ein Müller, der war arm, aber er hatte eine schöne Tochter.") == "de"
    # English stays English, even short, or with a few foreign words (langdetect alone calls these Swedish and Afrikaans)
    for text in (THREE_SCENES, "Anna met Ben. She smiled at him.", 'Zoë said: "100% of it\'s mine!" 東京 and שלום.'):
        assert detect_language(text) == "en", text


def test_french_story_is_spoken_in_french_and_cut_at_its_sentence_ends(tmp_path, cli):
    story = _story(tmp_path, "conte.txt", FRENCH)
    out = tmp_path / "conte.mp4"
    # a quick voice: a shorter render; the voice's language, the scenes and the cues' words do not depend on it
    run = cli("make", story, "-o", out, "--backend", "sketch", "--aspect", "1:1", "--speed", "450")
    assert run.code == 0, run.stderr
    assert "French voice" in run.stderr
    assert _voices(tmp_path / "conte.storyreel") == {("espeak", "fr")}
    assert run.stderr.count(ENGLISH_ONLY) == 1 and ", 0 characters)" in run.stderr
    texts = _scene_texts(cli, story)
    assert len(texts) >= 4
    for text in texts:  # a sentence each, never cut in its middle: "M. Dupont" and "« ... ! » disait-elle" stay whole
        assert re.search(r"[.!?…»”]$", text), text
    assert any(t.startswith("« Un jour, je partirai aussi.") and t.endswith("à son chat.") for t in texts), texts
    assert any(t.startswith("M. Dupont") for t in texts), texts
    # the .srt has the burned captions' short cues, in French
    cues = parse_srt(out.with_suffix(".srt").read_text(encoding="utf-8"))
    assert len(cues) > len(texts) and all(len(c[2].split()) <= 6 for c in cues)
    assert "Marie." in " ".join(c[2] for c in cues)


def test_a_given_voice_wins_over_the_language(tmp_path, cli):
    story = _story(tmp_path, "conte.txt", "Le chat dort au soleil. Il rêve de poissons et de lait chaud.\n")
    run = cli("make", story, "-o", tmp_path / "chat.mp4", "--backend", "sketch", "--aspect", "1:1", "--voice", "en-gb")
    assert run.code == 0, run.stderr
    assert _voices(tmp_path / "chat.storyreel") == {("espeak", "en-gb")}
    assert "French voice" not in run.stderr


def test_unknown_language_says_what_to_give(tmp_path, cli):
    story = _story(tmp_path, "conte.txt", FRENCH)
    run = cli("new", story, "--project", tmp_path / "p", "--language", "klingon")
    assert run.code != 0 and "Traceback" not in run.stderr
    lines = [ln for ln in run.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "klingon" in lines[0] and "ISO 639-1" in lines[0], run.stderr


def test_chinese_scenes_end_at_sentence_marks_with_quotes_whole(tmp_path, cli):
    texts = _scene_texts(cli, _story(tmp_path, "tale.txt", CHINESE))
    assert 5 <= len(texts) <= 10, texts  # a picture every few sentences, not one 50-second scene
    for text in texts:
        assert text[-1] in "。！？」", text
        assert text.count("「") == text.count("」"), text  # quoted speech never cut
    for quote in QUOTES:
        assert any(quote in t for t in texts), quote


@pytest.mark.parametrize(("name", "text"), [("fr.txt", FRENCH), ("zh.txt", CHINESE), ("ar.txt", ARABIC)])
def test_no_characters_invented_in_other_languages(tmp_path, cli, name, text):
    run = cli("characters", _story(tmp_path, name, text), "--json")
    assert run.code == 0, run.stderr
    import json

    assert json.loads(run.stdout)["characters"] == []
    assert run.stderr.count(ENGLISH_ONLY) == 1 and "by hand" in run.stderr


def test_characters_added_by_hand_in_chinese(tmp_path, cli):
    from storyreel import edit
    from storyreel.pipeline import Options, resolve, update_story
    from storyreel.store.db import Project

    project = Project(tmp_path / "p")
    opts = resolve(project, Options())
    update_story(project, CHINESE, opts)
    _, chars = edit.add_character(project, "桃太郎", ["男孩"])
    mentions = [m.text for m in chars[0].mentions]
    assert mentions.count("桃太郎") == 1 and mentions.count("男孩") == 2  # found inside runs of characters
    assert any(chars[0].id in s.characters for s in project.scenes())
    project.close()


def _caption_band(frame: np.ndarray, size: float) -> np.ndarray:
    """The rows of a 1080x1920 frame where the captions sit (their bottom 28% above the frame's bottom)."""
    bottom = 1920 - round(1920 * 0.28) + 20
    return frame[bottom - int(3 * 68 * size) - 40 : bottom]


def test_chinese_captions_stay_inside_the_frame(tmp_path, cli):
    story = _story(tmp_path, "tale.txt", CHINESE)
    out = tmp_path / "tale.mp4"
    # twice the size: a caption of eleven characters must wrap, with no spaces for libass to wrap at; a quick voice
    # makes a shorter render, each cue still on screen for many frames around the middle one looked at below
    run = cli("make", story, "-o", out, "--backend", "sketch", "--caption-size", "2", "--motion", "0",
              "--speed", "450")  # fmt: skip
    assert run.code == 0, run.stderr
    assert "Chinese voice (cmn)" in run.stderr
    assert "warning" not in run.stderr  # the CI machine has fonts-noto-cjk
    cues = parse_srt(out.with_suffix(".srt").read_text(encoding="utf-8"))
    sizes = [len(re.findall(r"\w", c[2])) for c in cues]
    assert max(sizes) <= 11 and max(sizes) >= 8, cues  # short cues like the burned captions, a line's worth
    assert "".join(c[2] for c in cues).startswith("从前，有一个小村庄，村里住着一位老奶奶。")
    longest = sorted(cues, key=lambda c: -len(c[2]))[:4]
    for start, end, text in longest:
        frame = frame_at(out, (start + end) / 2).astype(int)
        band = _caption_band(frame, 2.0)
        white = band.min(axis=2) > 225  # the captions' white letters (the dark cards have none)
        cols = np.flatnonzero(white.any(axis=0))
        assert white.sum() > 3000, (text, white.sum())
        # inside the frame, and inside the captions' margins: clear of the left edge and of TikTok's buttons
        assert cols.min() >= 80 - 8 and cols.max() <= 1080 - 162 + 8, (text, cols.min(), cols.max())


def _render_ass(tmp_path: Path, captions: list[Caption], name: str, width: int = 1080, height: int = 1080,
                system_fonts: bool = True, monkeypatch=None) -> np.ndarray:  # fmt: skip
    """The captions burned by libass over black, with the fonts a render uses (or only Roboto)."""
    from storyreel.render import fonts
    from storyreel.stages.video import _fonts

    work = tmp_path / name
    work.mkdir()
    (work / "captions.ass").write_text(ass_document(captions, width, height), encoding="utf-8")
    if not system_fonts:
        monkeypatch.setattr(fonts, "SYSTEM_FONT_DIRS", ())
    env = _fonts(work, " ".join(c.text for c in captions))
    raw = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", f"color=c=black:s={width}x{height}:d=1", "-vf",
         "ass=filename=captions.ass:fontsdir=fonts", "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        cwd=work, env=env, capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, dtype=np.uint8).reshape(height, width)


def test_chinese_captions_are_drawn_with_a_font_that_has_them(tmp_path, monkeypatch):
    # two different captions of the same length: drawn as letters they differ, drawn as empty boxes they do not
    one, two = [Caption(0, 1, "小明走进森林")], [Caption(0, 1, "他看见老虎了")]
    a, b = _render_ass(tmp_path, one, "a"), _render_ass(tmp_path, two, "b")
    assert (a > 128).sum() > 2000
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 0.5
    # the check itself: with Roboto alone (no Chinese glyphs), both are the same boxes
    c = _render_ass(tmp_path, one, "c", system_fonts=False, monkeypatch=monkeypatch)
    d = _render_ass(tmp_path, two, "d", system_fonts=False, monkeypatch=monkeypatch)
    assert np.abs(c.astype(int) - d.astype(int)).mean() < 0.05


def test_missing_font_is_one_warning_that_names_the_package(tmp_path):
    warning = missing_font_warning(CHINESE + ARABIC, dirs=[])
    assert warning is not None and "\n" not in warning
    assert "fonts-noto-cjk" in warning and "Chinese" in warning and "Arabic" in warning
    assert missing_font_warning(THREE_SCENES, dirs=[]) is None  # Roboto has them
    assert missing_font_warning(CHINESE) is None  # this machine has fonts-noto-cjk (.ci/run installs it)


def test_arabic_captions_read_right_to_left(tmp_path):
    ass = ass_document([Caption(0, 1, "وجد سمكة ذهبية تتكلم!")], 1080, 1920)
    style = next(ln for ln in ass.splitlines() if ln.startswith("Style: CaptionRTL,"))
    assert style.endswith(",-1")  # libass takes the paragraph's direction from its text
    assert "Dialogue: 0,0:00:00.00,0:00:01.00,CaptionRTL,," in ass
    assert "CaptionRTL" not in ass_document([Caption(0, 1, "The dragon slept.")], 1080, 1920)
    # drawn: the "!" that ends the sentence is at its left end, so the word sits right of where it sits without it
    with_mark = _render_ass(tmp_path, [Caption(0, 1, "تتكلم!")], "a").astype(float).sum(axis=0)
    without = _render_ass(tmp_path, [Caption(0, 1, "تتكلم")], "b").astype(float).sum(axis=0)
    shifts = range(-40, 41)
    errors = [np.abs(with_mark[100:-100] - np.roll(without, s)[100:-100]).sum() for s in shifts]
    best = list(shifts)[int(np.argmin(errors))]
    assert best > 3, best


def test_english_srt_has_the_short_captions(tmp_path, cli, story_file):
    out = tmp_path / "tale.mp4"
    # a quick voice: a shorter render; the cues are cut by words and punctuation, not by the voice's pace
    run = cli("make", story_file, "-o", out, "--backend", "sketch", "--aspect", "1:1", "--speed", "450")
    assert run.code == 0, run.stderr
    assert ENGLISH_ONLY not in run.stderr and "voice" not in run.stderr
    cues = parse_srt(out.with_suffix(".srt").read_text(encoding="utf-8"))
    assert len(cues) > 3 and all(1 <= len(c[2].split()) <= 6 for c in cues), cues  # not one cue per scene
    assert all(a[1] <= b[0] for a, b in zip(cues, cues[1:], strict=False))
    assert " ".join(c[2] for c in cues).startswith("Prince Siegfried rode out of the city at dawn")
