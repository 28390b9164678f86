"""Short tales with the clusters and the characters per scene a reader expects: one per thing the finder knows."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT

from storyreel import analyse


def _clusters(text):
    scenes, chars = analyse(text)
    return scenes, {c.name: [m.text for m in c.mentions] for c in chars}, {c.name: c for c in chars}


def _scene_names(scenes, chars_by_name):
    ids = {c.id: name for name, c in chars_by_name.items()}
    return [[ids[c] for c in s.characters] for s in scenes]


def test_quoted_speech_belongs_to_the_speaker():
    text = '"I will find the ring," said Frodo. Sam looked at him. "I will come with you," Sam replied.'
    _, clusters, _ = _clusters(text)
    assert clusters["Frodo"][:2] == ["I", "Frodo"]
    assert "I" in clusters["Sam"] and "him" not in clusters["Sam"]
    assert "him" in clusters["Frodo"]


def test_appositive_and_copula_describe_the_same_person():
    text = "Mary, the child of the miller, ran to the river. Mary was a little girl with red hair. The girl laughed."
    _, clusters, chars = _clusters(text)
    assert {"Mary", "the child of the miller", "The girl"} <= set(clusters["Mary"])
    assert "child" in chars["Mary"].prompt


def test_titles_first_and_last_names():
    text = ("Dr. John Watson met Mrs. Hudson at the door. Watson bowed to Mrs. Hudson. "
            "John smiled, and she laughed. Sir Henry arrived later; Henry was tired.")  # fmt: skip
    _, clusters, _ = _clusters(text)
    watson = next(v for k, v in clusters.items() if "Watson" in k)
    assert {"Dr. John Watson", "Watson", "John"} <= set(watson)
    hudson = next(v for k, v in clusters.items() if "Hudson" in k)
    assert "she" in hudson and "Watson" not in hudson
    henry = next(v for k, v in clusters.items() if "Henry" in k)
    assert {"Sir Henry", "Henry"} <= set(henry)


def test_gender_learned_from_pronouns():
    text = "Alex walked into the hall. She sat down by the window. Robin came in, and he waved at her."
    _, clusters, chars = _clusters(text)
    assert "She" in clusters["Alex"] and "her" in clusters["Alex"]
    assert "he" in clusters["Robin"]
    assert chars["Alex"].gender == "f"


def test_plural_they_for_groups():
    text = "The villagers gathered in the square. They were afraid of the giant. He laughed at them."
    _, clusters, _ = _clusters(text)
    villagers = next(v for k, v in clusters.items() if "villagers" in k.lower())
    assert "They" in villagers and "them" in villagers
    giant = next(v for k, v in clusters.items() if "giant" in k.lower())
    assert "He" in giant


def test_creatures_of_tales_are_characters():
    text = ("A witch lived in the dark wood. The wolf came to her door at night. "
            "The mermaid sang a sad song, and the old god listened to her.")  # fmt: skip
    _, clusters, _ = _clusters(text)
    names = {k.lower().removeprefix("the ") for k in clusters}
    assert names == {"witch", "wolf", "mermaid", "old god"}
    witch = next(v for k, v in clusters.items() if "witch" in k.lower())
    assert "her" in witch


def test_it_for_a_creature_the_story_follows():
    text = ("The dragon Fafnir slept on his gold. Deep in the cave, the beast opened its eyes. "
            "It roared, and the knight drew his sword.")  # fmt: skip
    scenes, clusters, chars = _clusters(text)
    assert {"the beast", "its", "It"} <= set(clusters["Fafnir"])
    assert _scene_names(scenes, chars)[1] == ["Fafnir"]


def test_salience_prefers_the_subject():
    text = "Tom met Harry at the station. He gave Harry a letter. Later he went home alone."
    _, clusters, _ = _clusters(text)
    assert clusters["Tom"].count("He") + clusters["Tom"].count("he") == 2


def test_never_across_gender_or_number():
    text = "The queen spoke to the boys. She was angry. They ran away, and he hid behind the door."
    _, clusters, _ = _clusters(text)
    queen = next(v for k, v in clusters.items() if "queen" in k.lower())
    boys = next(v for k, v in clusters.items() if "boys" in k.lower())
    assert "She" in queen and "They" not in queen and "he" not in queen
    assert "They" in boys and "She" not in boys


def test_passing_mentions_stay_out_of_the_picture():
    text = ("The king's daughter walked alone in the old garden by the sea. She picked a red rose from the hedge. "
            "The king watched her from the high tower of the castle.")  # fmt: skip
    scenes, clusters, chars = _clusters(text)
    names = _scene_names(scenes, chars)
    daughter = next(k for k in clusters if "daughter" in k.lower())
    king = next(k for k in clusters if k.lower().endswith("king"))
    assert names[0] == [daughter]  # the king is only the daughter's father here
    assert king in names[2] and daughter in names[2]


def test_the_name_is_the_most_informative_mention():
    text = "The old man sat by the fire. Everyone called him Grandpa Joe. Joe told stories every night."
    _, clusters, _ = _clusters(text)
    assert clusters == {"Grandpa Joe": ["The old man", "him", "Grandpa Joe", "Joe"]}  # one man, by his name
    text2 = "The tall stranger in the grey cloak stood at the gate. The stranger said nothing."
    _, clusters2, _ = _clusters(text2)
    assert clusters2 == {"the tall stranger": ["The tall stranger in the grey cloak", "The stranger"]}


# Tales with hand-written constraints (tests/data/tales, and the shared development tales when present): scored
# as ../shared/data/tales-dev/score.py scores `storyreel characters --json`, in-process to keep the suite quick.
TALES = [ROOT / "tests" / "data" / "tales", ROOT.parent / "shared" / "data" / "tales-dev"]
# measured 0.80 (28 tales, 649 constraints; the 12 added on 2026-11-29 met 0.55 when added) and 0.965 (85)
FLOORS = {"tales": 0.79, "tales-dev": 0.95}


def _owner(text, chars, phrase):
    """The id of the character whose mention covers ``phrase`` (its first occurrence) best, as score.py decides."""
    i = text.index(phrase)
    j = i + len(phrase)
    best, key = None, None
    for c in chars:
        for m in c.mentions:
            overlap = min(j, m.end) - max(i, m.start)
            k = (overlap, -abs((m.end - m.start) - (j - i)))
            if overlap > 0 and (key is None or k > key):
                best, key = c.id, k
    return best

def _constraints_met(folder):
    met = total = 0
    failed = []
    for story in sorted(folder.glob("*.txt")):
        text = story.read_text(encoding="utf-8")
        spec = json.loads(story.with_suffix(".json").read_text(encoding="utf-8"))
        scenes, chars = analyse(text, minor=True)

        def owner(phrase, text=text, chars=chars):
            return _owner(text, chars, phrase)

        checks = [any(n.lower() in c.name.lower() or any(n.lower() in m.text.lower() for m in c.mentions)
                      for c in chars) for n in spec["characters_expected"]]  # fmt: skip
        checks += [owner(a) is not None and owner(a) == owner(b) for a, b in spec["same"]]
        checks += [None not in (owner(a), owner(b)) and owner(a) != owner(b) for a, b in spec["different"]]
        for phrase, who in spec["scene_has"]:
            i = text.index(phrase)
            scene = next((s for s in scenes if s.start <= i < s.end), None)
            checks.append(scene is not None and owner(who) in scene.characters)
        met += sum(checks)
        total += len(checks)
        failed += [story.name] * (len(checks) - sum(checks))
    return met / total, failed


@pytest.mark.parametrize("folder", TALES, ids=["own-tales", "shared-dev-tales"])
def test_tales_meet_their_hand_written_constraints(folder):
    if not folder.is_dir():
        pytest.skip(f"{folder} not here")
    score, failed = _constraints_met(folder)
    assert score >= FLOORS[folder.name], (score, failed)


SCRIPT = """Narrator: Orpheus played the lyre so sweetly that the rocks wept. | a young musician with a golden lyre
Narrator: His bride Eurydice died of a snake bite. | a bride in white falling in a meadow
Orpheus: I will bring her back from the dead. | the musician weeping at her grave, a crow on a branch
Narrator: The grieving musician walked down into the dark. | a man with a lyre on dark stone stairs
"""


def test_script_speaker_is_i_narrator_is_nobody_and_what_to_draw_makes_no_new_character():
    scenes, chars = analyse(SCRIPT)
    by_name = {c.name: c for c in chars}
    assert set(by_name) == {"Orpheus", "Eurydice"}, by_name  # no "narrator", no "young musician with ..."
    orpheus = [m.text for m in by_name["Orpheus"].mentions]
    assert "I" in orpheus and "The grieving musician" in orpheus
    assert "the musician" in orpheus  # what to draw, given to the one it describes
    assert "her" in [m.text for m in by_name["Eurydice"].mentions]
    assert [sorted(s.characters) for s in scenes] == [["orpheus"], ["eurydice", "orpheus"], ["eurydice", "orpheus"],
                                                      ["orpheus"]]  # fmt: skip


def test_names_the_ner_does_not_know_epithets_and_short_ids():
    text = ("King Minos wanted a champion, and his daughter Ariadne loved a youth named Theseus. "
            "The cunning king sent the young man into the maze, where a terrible Minotaur with the horns of a bull "
            "waited. The creature charged, but the hero killed the monster. "
            "Her father raged when Ariadne fled with Theseus.")  # fmt: skip
    _, chars = analyse(text)
    ids = {c.id: c for c in chars}
    assert {"minos", "ariadne", "theseus", "minotaur"} <= set(ids), list(ids)
    assert "bull" not in ids  # "the horns of a bull" is what the Minotaur looks like
    said = {i: [m.text for m in c.mentions] for i, c in ids.items()}
    assert {"The cunning king", "Her father"} <= set(said["minos"])
    assert {"a youth named Theseus", "the young man"} <= set(said["theseus"]), said
    assert {"The creature", "the monster"} <= set(said["minotaur"])
    assert ids["minotaur"].name == "the terrible Minotaur"


def test_characters_json_lists_minor_clusters_flagged(tmp_path, cli):
    path = tmp_path / "tale.txt"
    path.write_text("Mira found the lamp. Somebody knocked; they waited outside. She opened the door.\n")
    run = cli("characters", path, "--json")
    assert run.code == 0, run.stderr
    data = json.loads(run.stdout)
    minor = [c for c in data["characters"] if c["minor"]]
    assert [c["name"] for c in data["characters"] if not c["minor"]] == ["Mira"]
    assert [c["name"] for c in minor] == ["the Somebody", "they"]  # listed, flagged, and in no picture
    assert [s["characters"] for s in data["scenes"]] == [["mira"]]



# (a tale, a phrase, another phrase, whether a reader takes them for one character): one per thing the finder knows
PAIRS = [
    ("Narrator: Anansi, the spider, climbed up to the sky god. | a spider\n"
     "Anansi: My wife Aso will help me. | a spider and his wife\n"
     "Narrator: On his wife's advice, the trickster told the python a lie. | a spider and a python\n",
     "Anansi, the", "the trickster", True),  # an epithet of a named animal
    ("Narrator: Maui caught the Sun in his ropes. | a young man and the sun\n"
     "Sun: Why do you beat me, little man? | the sun wincing\n",
     "Maui caught", "little man", True),  # whom a script line calls so is not its speaker
    ("Narrator: Maui caught the Sun in his ropes. | a young man and the sun\n"
     "Sun: Why do you beat me, little man? | the sun wincing\n",
     "beat me", "little man", False),
    ("Maui lived by the sea. Maui was the youngest son of Taranga. His brothers laughed, but the youngest brother "
     "plaited ropes.",
     "Maui was", "the youngest brother", True),  # the youngest son is the youngest brother
    ("The Sun rose, and his burning head caught in the noose. The hero leapt out and struck the Sun.",
     "The Sun rose", "The hero", False),  # nobody is the object of their own act
    ("The great bird found a boy on the rock. The great bird called him Dastan, and he grew into a tall youth.",
     "a boy", "Dastan", True),  # "called him Dastan": the boy named
    ("Puss ran ahead to the castle of an ogre. The giant laughed and became a lion.",
     "an ogre", "The giant", True),  # the castle of an ogre; ogres are giants
    ("Llywelyn the Great, a prince of Wales, owned a hound. Llywelyn rode out hunting.",
     "Llywelyn the Great", "Llywelyn rode", True),
    ("Pele, the goddess of fire, quarrelled with her sister Namaka, the goddess of the sea. "
     "Wherever Pele dug a pit, the sea goddess sent waves.", "Namaka", "the sea goddess", True),
    ("The elder, a greedy man called Nolbu, took the land. The younger, whose name was Heungbu, got a hut. "
     "A swallow fell under Heungbu's roof. The kind man bound its leg.", "Heungbu", "The kind man", True),
    ("The elder, a greedy man called Nolbu, took the land. The younger, whose name was Heungbu, got a hut.",
     "The younger", "Heungbu", True),  # whose name was X
    ('Her mother sang by the fire. "Mother, why do you sing?" she asked.',
     "Her mother", "she asked", False),  # the one a quotation calls by name does not say it
]


@pytest.mark.parametrize(("text", "a", "b", "same"), PAIRS)
def test_a_reader_takes_these_for_one_character_or_two(text, a, b, same):
    _, chars = analyse(text, minor=True)
    oa, ob = _owner(text, chars, a), _owner(text, chars, b)
    assert oa is not None and ob is not None, ([(c.id, [m.text for m in c.mentions]) for c in chars])
    assert (oa == ob) == same, ([(c.id, [m.text for m in c.mentions]) for c in chars])
