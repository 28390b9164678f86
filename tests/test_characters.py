"""The character finder on the bundled story and on short tales: what a user sees in the prompts."""

from __future__ import annotations

import json

from conftest import EXAMPLE

from storyreel import analyse


def _by_name(chars):
    return {c.name: c for c in chars}


def test_example_story_clusters():
    text = EXAMPLE.read_text(encoding="utf-8")
    scenes, chars = analyse(text)
    names = _by_name(chars)
    assert set(names) == {"Siegfried", "Mira", "Fafnir"}
    fafnir = {m.text.lower() for m in names["Fafnir"].mentions}
    assert {"the dragon fafnir", "the beast", "its", "fafnir"} <= fafnir
    siegfried = {m.text.lower() for m in names["Siegfried"].mentions}
    assert {"prince siegfried", "the prince", "he", "his", "him"} <= siegfried
    assert "i" in {m.text.lower() for m in names["Mira"].mentions}  # the speaker of the quote
    assert "grey hair" in names["Siegfried"].prompt and "silver armor" in names["Siegfried"].prompt
    assert "dragon" in names["Fafnir"].prompt
    for ch in chars:
        for m in ch.mentions:
            assert text[m.start : m.end] == m.text


def test_every_scene_gets_its_people_even_by_pronoun():
    scenes, chars = analyse(EXAMPLE.read_text(encoding="utf-8"))
    by_text = {s.text: s.characters for s in scenes}
    assert by_text["He wore silver armor, and his grey hair shone in the cold light."] == ["siegfried"]
    assert by_text["Deep in the cave, the beast opened its green eyes."] == ["fafnir"]
    assert by_text["At sunrise Siegfried came home, and Mira smiled at him."] == ["siegfried", "mira"]


def test_titles_and_name_variants():
    text = "Mr. John Smith opened the door. Smith smiled at Mrs. Smith. She laughed, and he sat down."
    _, chars = analyse(text)
    names = {c.name: {m.text for m in c.mentions} for c in chars}
    john = next(v for k, v in names.items() if "John" in k)
    assert {"Mr. John Smith", "Smith", "he"} <= john
    mrs = next(v for k, v in names.items() if v & {"Mrs. Smith"})
    assert "She" in mrs and "Mr. John Smith" not in mrs


def test_characters_json_offsets_point_into_the_file(tmp_path, cli):
    path = tmp_path / "tale.txt"
    path.write_text("\ufeff“Café!” said Zoë. The witch Agatha laughed; she flew away.\n", encoding="utf-8")
    run = cli("characters", path, "--json")
    assert run.code == 0, run.stderr
    data = json.loads(run.stdout)
    text = path.read_text(encoding="utf-8")
    # the two people; "Café!" is a word shouted, not someone
    assert [(c["name"], [m["text"] for m in c["mentions"]]) for c in data["characters"]] == [
        ("Zoë", ["Zoë"]), ("Agatha", ["The witch Agatha", "she"])]  # fmt: skip
    assert data["scenes"][0]["characters"] == ["zoë", "agatha"]
    for ch in data["characters"]:
        assert set(ch) == {"id", "name", "prompt", "minor", "mentions"}
        for m in ch["mentions"]:
            assert text[m["start"] : m["end"]] == m["text"]
    for sc in data["scenes"]:
        assert set(sc) == {"index", "start", "end", "text", "characters", "prompt"}
        assert text[sc["start"] : sc["end"]].split() == sc["text"].split()
    agatha = next(c for c in data["characters"] if c["name"] == "Agatha")
    assert "she" in [m["text"] for m in agatha["mentions"]]
    assert "witch" in agatha["prompt"]
