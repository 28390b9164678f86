"""The public API is what __all__ says, and backends are plugins registered like third-party ones."""

from __future__ import annotations

import pytest

import storyreel
from storyreel import plugins
from storyreel.errors import InputError


def test_public_api_is_exported():
    for name in storyreel.__all__:
        assert hasattr(storyreel, name), name
    assert issubclass(storyreel.ModelNotFoundError, storyreel.StoryreelError)


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
