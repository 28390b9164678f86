from __future__ import annotations

from storyreel.stages.prompts import CLIP_WINDOW, compose_prompt, count_tokens
from storyreel.types import Character, Scene


def _scene(chars, visual="he raises his shield"):
    return Scene(index=0, start=0, end=10, text=visual, visual=visual, characters=chars)


def test_style_then_characters_in_order_then_scene():
    chars = [
        Character("siegfried", "Siegfried", prompt="grey hair, silver armor"),
        Character("fafnir", "Fafnir", prompt="dark dragon", negative="cute"),
    ]
    p = compose_prompt(_scene(["fafnir", "siegfried"]), chars, style="oil painting", negative="blurry")
    assert p.positive == "oil painting, dark dragon, grey hair, silver armor, he raises his shield"
    assert p.negative == "blurry, cute"
    assert p.truncated == ""


def test_long_scene_text_cannot_push_the_characters_out():
    chars = [Character("a", "A", prompt="red cloak, golden crown")]
    long_visual = " ".join(["wandering through the endless misty forest"] * 20)
    p = compose_prompt(_scene(["a"], long_visual), chars, style="storybook")
    assert p.positive.startswith("storybook, red cloak, golden crown, wandering")
    assert p.tokens > CLIP_WINDOW
    assert p.truncated and p.truncated in p.positive and "golden crown" not in p.truncated


def test_token_estimate_counts_punctuation_and_long_words():
    assert count_tokens("a dragon") == 2
    assert count_tokens("grey hair, silver armor") == 5
    assert count_tokens("incomprehensibilities") > 1


def test_words_the_model_will_not_read_are_said_not_silently_dropped(tmp_path):
    from conftest import THREE_SCENES, run_cli

    story = tmp_path / "tale.md"
    story.write_text(THREE_SCENES, encoding="utf-8")
    style = ", ".join(f"ornate detail number {i}" for i in range(20))  # some 80 CLIP tokens of style alone
    run = run_cli("make", story, "-o", tmp_path / "tale.mp4", "--backend", "sketch", "--style", style, "--speed", "450")
    assert run.code == 0, run.stderr
    said = [line for line in run.stderr.splitlines() if "the model will not read" in line]
    assert len(said) == 3 and all("CLIP tokens" in line for line in said)  # one line for each scene
    # the scene's own words are past the window, and the line names them
    assert said[0].endswith("ornate detail number 19, prince, grey hair, Prince Siegfried rode out of the city at dawn "
                            "with his grey hair in the wind.'")  # fmt: skip
