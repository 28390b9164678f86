"""The public API is what __all__ says, and backends are plugins registered like third-party ones."""

from __future__ import annotations

import pytest

import storyreel
from storyreel import plugins
from storyreel.errors import InputError


def test_the_python_api_makes_a_video_as_its_docstring_says(tmp_path):
    """What storyreel's docstring shows, done: analyse a story, then make its video with a backend of one's own,
    registered as a third-party plugin is; the pictures in the video are that backend's, the errors are the API's."""
    from conftest import THREE_SCENES, frame_at

    from storyreel.backends.base import Defaults, ImageBackend

    assert set(storyreel.__all__) <= set(dir(storyreel))
    scenes, characters = storyreel.analyse(THREE_SCENES)
    assert [len(s.characters) for s in scenes] == [1, 1, 2]  # "He climbed the mountain, and she roared at him"
    assert {c.name for c in characters} == {"Siegfried", "Fafnir"}
    by_id = {c.id: c for c in characters}
    assert [by_id[c].name for c in scenes[2].characters] == ["Siegfried", "Fafnir"]

    class Teal(ImageBackend):
        name = model_id = "teal"

        def __init__(self, **_: object) -> None:
            pass

        def defaults(self) -> Defaults:
            return Defaults(steps=1, guidance=0.0, width=288, height=512, native=288)

        def generate(self, requests, progress=None, should_stop=None):
            from PIL import Image

            return [Image.new("RGB", (r.width, r.height), (0, 128, 128)) for r in requests]

    plugins.registry().image_backend("teal", Teal)
    story = tmp_path / "story.md"
    story.write_text(THREE_SCENES, encoding="utf-8")
    result = storyreel.make(story, tmp_path / "out" / "story.mp4", options=storyreel.Options(backend="teal", speed=450))
    assert result.render is not None and result.render.video.exists() and result.render.srt.exists()
    assert len(result.scenes) == 3 and {c.name for c in result.characters} == {"Siegfried", "Fafnir"}
    r, g, b = frame_at(result.render.video, 1.0)[200:400, 200:400].reshape(-1, 3).mean(axis=0)
    assert r < 30 and 100 < g < 160 and 100 < b < 160  # teal: the plugin's picture
    with pytest.raises(storyreel.InputError, match="WIDTHxHEIGHT"):
        storyreel.make(story, tmp_path / "bad.mp4", options=storyreel.Options(backend="teal", size="large"))


def test_builtin_plugins_are_registered():
    reg = plugins.registry()
    assert {"diffusers", "sketch"} <= set(reg.names("image_backend"))
    assert {"espeak", "piper"} <= set(reg.names("tts_engine"))
    assert "rules" in reg.names("coref_engine")
    plugins.create("image_backend", "sketch")
    with pytest.raises(InputError, match="unknown image backend 'nope'"):
        plugins.create("image_backend", "nope")


def test_a_third_party_backend_registers_through_the_same_hook():
    reg = plugins.Registry()
    plugins.builtin(reg)

    class Mine:
        def __init__(self, **kw):
            self.kw = kw

    reg.image_backend("mine", Mine)
    assert reg.factory("image_backend", "mine")(model="m").kw == {"model": "m"}
    assert "mine" in reg.names("image_backend")


def test_sketch_cards_show_scene_characters_and_the_word_sketch():
    from storyreel.backends.sketch import SketchBackend
    from storyreel.types import ImageRequest

    b = SketchBackend()
    req = ImageRequest("style, grey hair, silver armor, he rides", "", 5, 1, 0.0, 288, 512, scene=3,
                       characters=(("Siegfried", "grey hair, silver armor"),))  # fmt: skip
    a, again, other = b.generate([req, req, ImageRequest(**{**req.__dict__, "seed": 6})])
    assert a.size == (288, 512)
    assert a.tobytes() == again.tobytes() and a.tobytes() != other.tobytes()


def test_the_registry_does_not_import_torch(tmp_path):
    import subprocess
    import sys

    code = "import sys, storyreel; from storyreel import plugins; plugins.create('image_backend', 'sketch'); " \
           "print('torch' in sys.modules)"  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_fastcoref_engine_says_how_to_get_it():
    try:
        import fastcoref  # noqa: F401
    except ImportError:
        with pytest.raises(InputError, match="pip install fastcoref"):
            plugins.create("coref_engine", "fastcoref")
    else:  # installed: it must find the characters of a short tale
        from storyreel import analyse

        _, chars = analyse("Anna met Ben. She smiled at him.", coref="fastcoref")
        assert {c.name for c in chars} >= {"Anna", "Ben"}
