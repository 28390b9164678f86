"""The timeline, the motion, the caption files, and a real render with awkward text."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import frame_at, parse_srt

from storyreel.render.captions import ass_document, ass_escape, srt_document
from storyreel.render.ffmpeg import probe
from storyreel.render.motion import cover, view
from storyreel.render.timeline import MAX_CAPTION_WORDS, MOTIONS, Caption, build_timeline
from storyreel.types import WordTiming


def _words(text: str, step: float = 0.3) -> list[WordTiming]:
    return [WordTiming(w, i * step, (i + 1) * step) for i, w in enumerate(text.split())]


def test_timeline_length_is_narration_plus_pauses():
    tl = build_timeline([2.0, 3.5, 1.25], fps=30, pause=0.6, crossfade=0.5)
    assert tl.duration == pytest.approx(2.0 + 3.5 + 1.25 + 3 * 0.6)
    assert tl.frames == round(tl.duration * 30)
    assert [s.start for s in tl.slots] == pytest.approx([0.0, 2.6, 6.7])
    assert len({s.motion for s in tl.slots}) == 3  # varied between scenes


def test_frames_crossfade_at_cuts_only():
    tl = build_timeline([2.0, 2.0], fps=30, pause=0.5, crossfade=0.5)
    for n in range(tl.frames):
        plan = tl.frame_plan(n)
        assert sum(w for _, w, _ in plan) == pytest.approx(1.0)
        t = (n + 0.5) / 30
        if abs(t - 2.5) > 0.25:
            assert len(plan) == 1
    cut = tl.frame_plan(round(2.5 * 30))
    assert {i for i, _, _ in cut} == {0, 1}


@pytest.mark.parametrize("motion", MOTIONS)
def test_motion_is_smooth(motion):
    """The view moves by a steady sub-pixel amount every frame: no jitter, no jumps."""
    src_w, src_h = round(1080 * 1.12), round(1920 * 1.12)
    mats = [view(motion, n / 149, src_w, src_h, 1080, 1920) for n in range(150)]
    # where the output's centre and corner come from, frame by frame
    pts = np.array([[m @ [540, 960, 1], m @ [0, 0, 1]] for m in mats]).reshape(150, -1)
    steps = np.diff(pts, axis=0)
    assert np.abs(steps).max() < 1.5  # gentle
    assert np.abs(np.diff(steps, axis=0)).max() < 1e-6  # constant speed
    assert np.abs(pts[-1] - pts[0]).max() > 10  # and it does move
    for m in mats:  # never shows anything outside the picture
        for u, v in ((0, 0), (1079, 1919)):
            x, y = m @ [u, v, 1]
            assert -0.5 <= x <= src_w - 0.5 and -0.5 <= y <= src_h - 0.5


def test_cover_fills_the_frame_with_room_to_move():
    img = np.zeros((896, 512, 3), dtype=np.uint8)
    out = cover(img, 1080, 1920)
    assert out.shape == (round(1920 * 1.12), round(1080 * 1.12), 3)
    square = cover(np.zeros((512, 512, 3), dtype=np.uint8), 1080, 1920)
    assert square.shape[:2] == out.shape[:2]


def test_captions_are_short_groups_in_time_with_the_voice():
    text = "The dragon Fafnir sleeps in the mountain, and I have seen its fire, she said quietly."
    tl = build_timeline([8.0], words=[_words(text)])
    assert all(len(c.text.split()) <= MAX_CAPTION_WORDS for c in tl.captions)
    assert " ".join(c.text for c in tl.captions) == text
    assert [c.text for c in tl.captions][:2] == ["The dragon Fafnir sleeps", "in the mountain,"]
    assert all(a.end <= b.start + 1e-9 for a, b in zip(tl.captions, tl.captions[1:], strict=False))
    # each caption stays up until its last word has been said (a little after, to be read)
    said = _words(text)
    ends = [said[len(" ".join(c.text for c in tl.captions[: i + 1]).split()) - 1].end for i in range(len(tl.captions))]
    assert all(c.end >= end for c, end in zip(tl.captions, ends, strict=True))


def test_long_phrases_split_into_even_captions():
    """A caption holds at most MAX_CAPTION_WORDS (6) words: a phrase of 6 is one caption; longer ones are split
    into even parts, never a long caption and a stray word."""
    sizes = {}
    for n in (6, 7, 12, 13):
        text = " ".join(f"word{i}" for i in range(n))
        sizes[n] = [len(c.text.split()) for c in build_timeline([n * 0.3 + 1], words=[_words(text)]).captions]
    assert sizes == {6: [6], 7: [4, 3], 12: [6, 6], 13: [5, 5, 3]}


def test_short_phrases_share_a_caption_while_it_fits():
    """A short phrase ("Oh no.") joins its neighbour in one caption while the two fit in six words; a phrase of three
    words or more keeps a caption of its own."""
    captions = {}
    for text in ("Run, run! Hide now. The big bad wolf is coming down the hill. Oh no. Oh dear, oh dear.",
                 "Yes. The wolf came, three pigs hid, and two geese flew. No! It ran.",
                 "The pigs hid. The wolf waited. Night fell."):  # fmt: skip
        captions[text] = [c.text for c in build_timeline([len(text.split()) * 0.3 + 1], words=[_words(text)]).captions]
    assert list(captions.values()) == [
        ["Run, run! Hide now.", "The big bad wolf is", "coming down the hill. Oh no.", "Oh dear, oh dear."],
        ["Yes. The wolf came,", "three pigs hid,", "and two geese flew. No!", "It ran."],
        ["The pigs hid.", "The wolf waited. Night fell."],
    ]


def test_chinese_captions_are_short_lines_cut_at_the_marks():
    """Chinese has no spaces: each character is a word (its marks with it), and a caption holds about eleven."""
    from storyreel.tts.base import timings_from_starts, word_spans

    text = "从前，山里住着一只很老很老的老虎。有一天，老虎对小兔子说：「我饿了！」"
    n = len(word_spans(text))
    words = list(timings_from_starts(text, [i * 0.25 for i in range(n)], n * 0.25 + 0.3))
    captions = [c.text for c in build_timeline([n * 0.25 + 0.5], words=[words]).captions]
    assert captions == ["从前，山里住着一只很", "老很老的老虎。", "有一天，", "老虎对小兔子说：", "「我饿了！」"]


def test_ass_escapes_libass_codes_only():
    assert ass_escape(r"100% {bold} \N a:b it's") == "100% \\{bold\\} \\\u2060N a:b it's"
    doc = ass_document([Caption(0, 1.5, "héllo {x}")], 1080, 1920)
    assert "PlayResX: 1080" in doc and "PlayResY: 1920" in doc
    assert "Dialogue: 0,0:00:00.00,0:00:01.50,Caption,,0,0,0,,héllo \\{x\\}" in doc


def test_srt_document():
    srt = srt_document([Caption(0, 1.5, "one"), Caption(61.25, 3725.5, "two\nlines")])
    assert parse_srt(srt) == [(0.0, 1.5, "one"), (61.25, 3725.5, "two lines")]
    assert "01:02:05,500" in srt
    assert [b.splitlines()[0] for b in srt.strip().split("\n\n")] == ["1", "2"]  # players expect 1, 2, ...


AWKWARD = """Zoë said: "100% of it's mine!" \\ {braces} and % signs.
The prince laughed at 3:30 with a grin 😀, then said 東京 and שלום.
"""


def test_awkward_text_renders_in_square_video(tmp_path, cli):
    story = tmp_path / "awkward.txt"
    story.write_text(AWKWARD, encoding="utf-8")
    out = tmp_path / "sq.mp4"
    run = cli("make", story, "-o", out, "--backend", "sketch", "--aspect", "1:1")
    assert run.code == 0, run.stderr
    info = probe(out)
    assert (info.width, info.height) == (1080, 1080)
    srt = parse_srt(out.with_suffix(".srt").read_text(encoding="utf-8"))
    joined = " ".join(c[2] for c in srt)
    for piece in ['"100% of it\'s mine!"', "\\ {braces}", "3:30", "😀", "東京", "שלום"]:
        assert piece in joined
    # the caption is drawn, white on a black outline, in its band above the bottom edge; the card is dark there
    frame = frame_at(out, 1.0).astype(int)
    band = frame[1080 - 108 - 90 : 1080 - 108]
    white = (band.min(axis=2) > 225).sum()
    black = (band.max(axis=2) < 30).sum()
    assert white > 800 and black > 800, (white, black)
