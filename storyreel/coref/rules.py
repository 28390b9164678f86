"""The rules engine: character mentions clustered with spaCy's parse and a few rules.

1. find mentions: proper names (with titles), noun phrases headed by a person or creature noun (with their
   prepositional phrases and relative clauses), pronouns of all three persons;
2. walk the mentions in order, linking each to an entity: names by their parts, descriptions by their noun
   (or a generic "the beast" to the last creature), third-person pronouns to the most salient entity of the same
   gender and number (subject, recency, frequency, same side of a quotation's edge); then the first-person
   narrator, "I" inside a quotation to its speaker ("said X", a continuation, or turn-taking), "we" to a company,
   "you" to whoever the quotation calls by name or spoke before; "you" in narration is anyone;
3. collect each entity's prompt words from the text: its role noun, adjectives, what it wears, its looks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..types import Character, Mention
from . import lexicon as lx
from .base import CorefEngine

_QUOTES_OPEN = {'"', "“", "‘", "«", "„"}
_QUOTES_CLOSE = {'"', "”", "’", "»", "“"}


@dataclass
class _Mention:
    start_tok: int
    end_tok: int  # exclusive
    head: int
    type: str  # name | description | pronoun
    gender: str | None = None
    number: str = "sg"
    person: int = 3
    lemma: str = ""  # head noun lemma for descriptions, name key for names
    name_parts: tuple[str, ...] = ()
    titles: frozenset[str] = frozenset()  # "mr", "mrs", "king"...
    definite: bool = True
    in_quote: bool = False
    creature: bool = False
    entity: int | None = None
    block: int = 0  # the quotation the mention is in (0: narration)
    standalone: bool = (
        False  # its own mention, never linked nor an antecedent: "a dragon" in "Fafnir was a dragon", "somebody"
    )
    dep: str = ""  # the head's syntactic role


@dataclass
class _Entity:
    id: int
    mentions: list[_Mention] = field(default_factory=list)
    names: set[str] = field(default_factory=set)  # lower-cased name parts
    nouns: set[str] = field(default_factory=set)  # role nouns ("prince", "dragon")
    gender: str | None = None
    number: str = "sg"
    creature: bool = False
    narrator: bool = False
    addressee: bool = False
    we: bool = False
    first_names: set[str] = field(default_factory=set)  # first parts of multi-part names
    owners: dict[str, set[int]] = field(default_factory=dict)  # "mother" -> whose mother this is
    titles: set[str] = field(default_factory=set)

    def last_tok(self) -> int:
        return self.mentions[-1].head if self.mentions else -1


def _quote_mask(doc: Any) -> list[int]:
    """For each token, the number of the quotation it is inside (1, 2, ...), or 0 outside quotes."""
    inside, mask, block = False, [], 0
    for tok in doc:
        t = tok.text
        if t in _QUOTES_OPEN and (not inside or t == '"'):
            if inside and t == '"':
                inside = False
                mask.append(False)
                continue
            inside = True
            block += 1
            mask.append(False)
            continue
        if inside and t in _QUOTES_CLOSE:
            inside = False
            mask.append(False)
            continue
        if tok.is_space and "\n\n" in tok.text:
            inside = False  # a paragraph break ends an unclosed quote
        mask.append(block if inside else 0)
    return mask


def _verb_of(tok: Any) -> Any:
    """The verb whose argument a noun phrase is, through prepositions ("looked at him" -> looked)."""
    while tok.dep_ in ("pobj", "prep", "dobj", "iobj", "dative", "agent") and tok.head.i != tok.i:
        tok = tok.head
    return tok


def _np_end(tok: Any) -> int:
    """Right edge of a noun phrase: its prepositional phrases and relative clauses ("the man who wrote the note")."""
    end = tok.i
    for child in tok.rights:
        if child.dep_ in ("prep", "relcl", "acl"):
            end = max(end, child.right_edge.i)
    while end > tok.i and (tok.doc[end].is_punct or tok.doc[end].is_space):
        end -= 1
    return end


def _np_start(tok: Any) -> int:
    """Left edge of a noun phrase from its pre-modifiers (det, adjectives, compounds, possessors)."""
    start = tok.i
    for child in tok.lefts:
        if child.dep_ in ("det", "amod", "compound", "poss", "nummod", "nmod", "advmod", "case"):
            start = min(start, child.left_edge.i)
    doc = tok.doc
    while start < tok.i and (doc[start].is_space or doc[start].is_punct):
        start += 1
    return start


class RulesEngine(CorefEngine):
    name = "rules"
    # how a pronoun weighs a candidate antecedent mention (tuned on LitBank's development documents)
    w_distance = 20.0  # tokens per point lost
    w_subject = 3.0
    w_name = 1.0
    w_same_sentence = 2.0
    w_quote = 6.0
    w_frequency = 0.8
    frequency_cap = 10
    w_unnamed = 0.0  # lost by an entity known only by pronouns
    generic_window = 80  # tokens within which "the man" is the man just mentioned
    you_window = 250  # tokens over which a quoted "you" stays the same person

    def find_characters(self, text: str, doc: Any) -> list[Character]:
        return self._characters(doc, self._entities(doc))

    def clusters(self, text: str, doc: Any) -> list[list[Mention]]:
        return [self._mentions_of(doc, e) for e in self._entities(doc) if not self._passing_animal(e)]

    def _passing_animal(self, e: _Entity) -> bool:
        """A creature without a name, met once and doing nothing ("a startled cat"): scenery, not a character."""
        if not e.creature or e.names or sum(m.type == "description" for m in e.mentions) >= 2:
            return False
        return not any(m.dep in ("nsubj", "nsubjpass") for m in e.mentions)

    def _entities(self, doc: Any) -> list[_Entity]:
        quote = _quote_mask(doc)
        mentions = self._mentions(doc, quote)
        return self._cluster(doc, mentions, quote)

    def _mentions_of(self, doc: Any, e: _Entity) -> list[Mention]:
        return [
            Mention(
                doc[m.start_tok].idx,
                doc[m.end_tok - 1].idx + len(doc[m.end_tok - 1].text),
                doc[m.start_tok : m.end_tok].text,
                m.type,
                passing=self._passing(doc, m),
            )
            for m in sorted(e.mentions, key=lambda m: m.start_tok)
        ]

    # 1. mentions ---------------------------------------------------------------------------------------
    def _mentions(self, doc: Any, quote: list[int]) -> list[_Mention]:
        out: list[_Mention] = []
        taken: set[int] = set()
        # names are known by their parts once a confident mention has shown them ("Fafnir roared")
        known = {t.lower_ for t in doc if t.pos_ == "PROPN" and self._is_name_head(t)} | self._voted_names(doc)
        for tok in doc:
            if tok.i in taken:
                continue
            low = tok.lower_
            pron = lx.PRONOUNS.get(low) if tok.pos_ == "PRON" else None
            if pron is None and low in lx.SECOND_PERSON and tok.pos_ in ("PRON", "DET", "PROPN", "NOUN"):
                pron = (None, "sg", 2)  # "you", "thee", "your": the tagger varies
            if pron is not None:
                g, n, p = pron
                q = quote[tok.i]
                out.append(_Mention(tok.i, tok.i + 1, tok.i, "pronoun", g, n, p, lemma=low, in_quote=bool(q), block=q))
                continue
            if low in lx.INDEFINITE_PERSONS:
                out.append(
                    _Mention(
                        tok.i,
                        _np_end(tok) + 1,
                        tok.i,
                        "description",
                        None,
                        "sg",
                        lemma=low,
                        definite=False,
                        in_quote=bool(quote[tok.i]),
                        block=quote[tok.i],
                        standalone=True,
                    )  # fmt: skip
                )
                continue
            if (tok.pos_ == "PROPN" and self._is_name_head(tok)) or (
                tok.lower_ in known and tok.text[:1].isupper() and not self._followed_by_propn(tok)
            ):
                m = self._name_mention(doc, tok, quote)
                if m is not None:
                    taken.update(range(m.start_tok, m.end_tok))
                    out.append(m)
                continue
            if tok.pos_ == "NOUN" or (
                tok.pos_ == "PROPN"
                and (
                    tok.text.islower()
                    or tok.ent_type_ == "NORP"
                    or tok.lower_ in lx.BARE_PERSON
                    or (tok.lemma_.lower() in lx.PERSON_NOUNS and any(c.dep_ == "det" for c in tok.lefts))
                )
            ):  # "the old god", "the Egyptians", "Madam", "The Old Man": nouns the tagger took for names
                m = self._description(doc, tok, quote)
                if m is not None:
                    out.append(m)
        out.sort(key=lambda m: m.start_tok)
        for m in out:
            m.dep = doc[m.head].dep_
        return out

    _PLACE_PREPS = frozenset("in at to from into near towards toward across through via".split())

    def _voted_names(self, doc: Any) -> set[str]:
        """Capitalised words the document treats as people more often than as places or things: the subject
        of a verb, an owner, someone spoken to; against: after "in", "at", "to" and the like."""
        votes: dict[str, int] = {}
        for t in doc:
            if t.pos_ != "PROPN" or not t.text[:1].isupper() or t.lower_ in lx.TITLES:
                continue
            v = 0
            if t.ent_type_ == "PERSON" or t.dep_ in ("nsubj", "nsubjpass", "poss", "npadvmod"):
                v = 1
            elif t.dep_ == "pobj" and t.head.lower_ in self._PLACE_PREPS:
                v = -1
            if t.ent_type_ in ("GPE", "LOC", "FAC") and t.dep_ not in ("nsubj", "poss"):
                v -= 1
            votes[t.lower_] = votes.get(t.lower_, 0) + v
        return {w for w, v in votes.items() if v >= 2}

    @staticmethod
    def _role_noun(tok: Any) -> bool:
        lemma = tok.lemma_.lower()
        return lemma in lx.PERSON_NOUNS or lemma in lx.CREATURE_NOUNS

    def _followed_by_propn(self, tok: Any) -> bool:
        nxt = tok.doc[tok.i + 1] if tok.i + 1 < len(tok.doc) else None
        return nxt is not None and nxt.pos_ == "PROPN" and tok.dep_ == "compound"

    def _is_name_head(self, tok: Any) -> bool:
        # the last token of a run of proper nouns, naming a person (or something the parse treats as one)
        if tok.dep_ == "compound" and tok.head.pos_ == "PROPN" and 0 < tok.head.i - tok.i <= 3:
            return False  # "Adam" in "Adam J. Patch": the name ends further on
        if tok.dep_ == "compound" and tok.head.pos_ == "NOUN" and not self._role_noun(tok.head):
            return False  # "the Chichester ladies" is about ladies; "Baker Street" about a street
        if tok.ent_type_ == "PERSON":
            return True
        prev = tok.doc[tok.i - 1] if tok.i > 0 else None
        if (
            prev is not None
            and prev.pos_ == "NOUN"
            and self._role_noun(prev)
            and prev.i > 0
            and prev.nbor(-1).dep_ == "det"
        ):
            return True  # "the witch Agatha", however the parse attached it
        if prev is not None and prev.lower_ in lx.TITLES and lx.TITLES[prev.lower_] is not None:
            return True  # "Dr. Floss", "Mrs. Smith", whatever the tagger thought of the name
        if prev is not None and prev.lower_ in ("dr", "dr.", "professor", "captain", "colonel", "general"):
            return True
        if tok.dep_ in ("nsubj", "nsubjpass") and tok.head.lemma_ in lx.HUMAN_VERBS:
            return True  # "Florence smiled", even when the tagger took her for a city
        if tok.lower_ in lx.FIRST_NAMES_M or tok.lower_ in lx.FIRST_NAMES_F or tok.text in ("God", "Lord"):
            return True
        if tok.dep_ in ("oprd", "attr") and tok.ent_type_ in ("PERSON", ""):
            return True  # "Call me Ishmael", "It was Holmes"
        if tok.ent_type_ in ("GPE", "LOC", "FAC", "ORG", "DATE", "TIME", "NORP", "WORK_OF_ART", "EVENT"):
            return False
        if any(
            c.dep_ == "compound" and (c.lemma_.lower() in lx.PERSON_NOUNS or c.lemma_.lower() in lx.CREATURE_NOUNS)
            for c in tok.lefts
        ):
            return True  # "the dragon Fafnir"
        if tok.dep_ in ("nsubj", "nsubjpass") and tok.head.lemma_ in lx.SPEECH_LEMMAS:
            return True
        if tok.dep_ == "appos" and tok.head.lemma_.lower() in lx.PERSON_NOUNS:
            return True
        return False

    def _name_mention(self, doc: Any, tok: Any, quote: list[int]) -> _Mention | None:
        start = tok.i
        while (
            start > 0
            and doc[start - 1].pos_ == "PROPN"
            and (
                doc[start - 1].ent_type_ in ("PERSON", "")
                or (doc[start - 1].dep_ == "compound" and doc[start - 1].head.i == tok.i)
            )
        ):
            start -= 1
        # titles written in lower case or tagged as nouns ("Mr.", "King")
        while start > 0 and doc[start - 1].lower_ in lx.TITLES:
            start -= 1
        # a role noun before the name: "the witch Agatha"
        if start > 1 and doc[start - 1].pos_ == "NOUN" and self._role_noun(doc[start - 1]):
            if doc[start - 2].dep_ == "det":
                start -= 2
        np_start = min(start, _np_start(tok))
        while doc[np_start].is_space or doc[np_start].is_punct:
            np_start += 1
        end = tok.i
        while (
            end + 2 < len(doc)
            and doc[end + 1].text == "-"
            and not doc[end].whitespace_
            and doc[end + 2].pos_ == "PROPN"
        ):
            end += 2  # "Foucquier-Tinville"
        parts = [t for t in doc[start : tok.i + 1] if t.lower_ not in lx.TITLES and t.is_alpha]
        if not parts:
            return None
        gender = None
        for t in doc[np_start : tok.i + 1]:
            g = lx.TITLES.get(t.lower_) or lx.PERSON_NOUNS.get(t.lemma_.lower())
            if g:
                gender = g
                break
        first = parts[0].lower_
        if gender is None:
            gender = "m" if first in lx.FIRST_NAMES_M else "f" if first in lx.FIRST_NAMES_F else None
        creature = any(t.lemma_.lower() in lx.CREATURE_NOUNS for t in doc[np_start : tok.i])
        m = _Mention(
            np_start,
            end + 1,
            tok.i,
            "name",
            gender,
            "pl" if tok.tag_ == "NNPS" or tok.lemma_.lower() in lx.COLLECTIVE else "sg",
            lemma=" ".join(t.lower_ for t in parts),
            name_parts=tuple(t.lower_ for t in parts),
            titles=frozenset(t.lower_.rstrip(".") for t in doc[np_start : tok.i] if t.lower_ in lx.TITLES),
            in_quote=bool(quote[tok.i]),
            block=quote[tok.i],
            creature=creature,
        )
        return m

    def _person_noun(self, tok: Any) -> tuple[bool, str | None]:
        """Is this noun a person (or creature), and its gender."""
        lemma, low = tok.lemma_.lower(), tok.lower_
        if lemma in lx.PERSON_NOUNS:
            return True, lx.PERSON_NOUNS[lemma]
        if low in lx.PLURAL_PERSON_NOUNS or lemma in lx.CREATURE_NOUNS:
            return True, None
        if tok.ent_type_ == "NORP":
            return True, None  # "the Egyptians", "a Frenchman"
        if (
            low.endswith(lx.PERSON_SUFFIXES)
            and not low.endswith(("ness", "less", "nesses"))  # "gentleness", "harness"
            and low not in lx.NOT_PERSON_SUFFIXED
            and len(low) > 5
        ):
            gender = (
                "f"
                if low.endswith(("woman", "women", "ess", "esses"))
                else "m"
                if low.endswith(("man", "men"))
                else None
            )
            return True, gender
        return False, None

    def _description(self, doc: Any, tok: Any, quote: list[int]) -> _Mention | None:
        lemma = tok.lemma_.lower()
        plural = tok.tag_ in ("NNS", "NNPS")
        person, gender = self._person_noun(tok)
        if not person:
            return None
        if tok.dep_ == "compound":
            return None  # "the dragon Fafnir": part of a name
        nxt = doc[tok.i + 1] if tok.i + 1 < len(doc) else None
        if nxt is not None and nxt.pos_ == "PROPN" and self._is_name_head(nxt):
            return None  # "the witch Agatha": the name's mention holds it
        predicate = tok.dep_ == "attr" and tok.head.lemma_ == "be"  # "He was an elderly man"
        det = next((c for c in tok.lefts if c.dep_ in ("det", "poss", "nummod")), None)
        if det is None and not plural and lemma not in lx.BARE_PERSON:
            if not any(c.dep_ == "amod" for c in tok.lefts):
                return None  # bare "dragon" in "dragon fire"
        definite = det is not None and (det.dep_ == "poss" or det.lower_ in ("the", "this", "that", "these", "those"))
        if det is None and lemma in lx.BARE_PERSON:
            definite = True  # "Mother said": one known person
        number = "pl" if plural or lemma in lx.COLLECTIVE else "sg"
        return _Mention(
            _np_start(tok),
            _np_end(tok) + 1,
            tok.i,
            "description",
            None if number == "pl" else gender,
            number,
            lemma=lemma,
            definite=definite,
            in_quote=bool(quote[tok.i]),
            block=quote[tok.i],
            creature=lemma in lx.CREATURE_NOUNS,
            standalone=predicate,
        )

    # 2. clustering -------------------------------------------------------------------------------------
    def _cluster(self, doc: Any, mentions: list[_Mention], quote: list[int]) -> list[_Entity]:
        entities: list[_Entity] = []

        def new(m: _Mention) -> _Entity:
            e = _Entity(len(entities), number=m.number, gender=m.gender, creature=m.creature)
            entities.append(e)
            return e

        def attach(m: _Mention, e: _Entity) -> None:
            m.entity = e.id
            e.mentions.append(m)
            by_token[m.head] = m
            tok = doc[m.head]
            if tok.dep_ == "nsubj" and tok.head.lemma_ == "be":  # "He was an elderly man": he is a man
                for attr in tok.head.rights:
                    if attr.dep_ == "attr" and attr.pos_ == "NOUN" and self._person_noun(attr)[0]:
                        e.nouns.add(attr.lemma_.lower())
            if m.type == "name":
                e.names.update(m.name_parts)
                e.titles.update(m.titles)
                if len(m.name_parts) > 1:
                    e.first_names.add(m.name_parts[0])
            if m.type == "description":
                e.nouns.add(m.lemma)
            if e.gender is None and m.gender in ("m", "f"):
                e.gender = m.gender
            e.creature = e.creature or m.creature

        later: list[_Mention] = []
        by_token: dict[int, _Mention] = {}  # head token -> mention, for possessors
        for m in mentions:
            if m.type == "pronoun" and m.person == 1:
                later.append(m)
                continue
            if m.type == "pronoun" and m.person == 2:
                later.append(m)
                continue
            if m.type == "name":
                e = self._match_name(m, entities)
                attach(m, e or new(m))
                for noun in self._descriptors(doc, m):
                    e2 = entities[m.entity]  # type: ignore[index]
                    e2.nouns.add(noun)
                    if noun in lx.CREATURE_NOUNS:
                        e2.creature = True
                    if e2.gender is None and lx.PERSON_NOUNS.get(noun):
                        e2.gender = lx.PERSON_NOUNS[noun]
            elif m.type == "description":
                owner = self._owner(doc, m, by_token)
                e = self._match_description(m, entities, owner) if m.definite and not m.standalone else None
                attach(m, e or new(m))
                if owner is not None:
                    entities[m.entity].owners.setdefault(m.lemma, set()).add(owner)  # type: ignore[index]
            else:
                e = self._match_pronoun(doc, m, entities)
                if e is not None:
                    attach(m, e)
                    if e.gender is None and m.gender in ("m", "f"):
                        e.gender = m.gender
                elif m.gender != "n":  # "it" with no creature to refer to is a thing, not a character
                    attach(m, new(m))
        narrator: _Entity | None = None
        for m in later:  # the narrator first: "I remarked" may tell who says a quotation
            if m.person == 1 and m.number == "sg" and not m.in_quote:
                if narrator is None:  # the first-person narrator is one character throughout
                    narrator = new(m)
                    narrator.narrator = True
                attach(m, narrator)
        speaker_of = self._quote_speakers(doc, quote, mentions, entities)  # quotation -> who says it
        unknown_speaker: dict[int, _Entity] = {}
        for m in later:
            if m.person == 2 or m.entity is not None:
                continue
            if m.number == "pl":
                # "we": the narrator's company in narration; inside quotes, the speaker's, while the talk goes on
                e = next((x for x in reversed(entities) if x.we and x.mentions[-1].in_quote == m.in_quote
                          and (not m.in_quote or m.head - x.last_tok() < 200)), None)  # fmt: skip
                if e is None:
                    e = new(m)
                    e.we = True
                attach(m, e)
                continue
            e = speaker_of.get(m.block) or unknown_speaker.get(m.block)
            if e is None:
                e = new(m)  # someone speaks; we do not know who, but it is one person all through the quote
                unknown_speaker[m.block] = e
            attach(m, e)

        # someone called by name inside a quotation ("Watson, come here") is whom it speaks to
        vocative: dict[int, _Entity] = {}
        for x in mentions:
            if x.in_quote and x.type in ("name", "description") and x.entity is not None and self._vocative(doc, x):
                vocative.setdefault(x.block, entities[x.entity])
        for m in (x for x in later if x.person == 2):
            e = vocative.get(m.block) if m.in_quote else None
            if e is None and m.in_quote and m.block > 1:
                # in a dialogue, "you" is whoever spoke the quotation before, when someone else speaks this one
                before, now = speaker_of.get(m.block - 1), speaker_of.get(m.block)
                if before is not None and before is not now and m.head - before.last_tok() < 300:
                    e = before
            if e is None:
                # in narration, "you" is most often anyone at all ("you would have said"): its own mention
                e = next((x for x in reversed(entities) if x.addressee and x.mentions[-1].in_quote
                          and m.in_quote and m.head - x.last_tok() < self.you_window), None)  # fmt: skip
            if e is None:
                e = new(m)
                e.addressee = True
            attach(m, e)
        return [e for e in entities if e.mentions]

    def _match_name(self, m: _Mention, entities: list[_Entity]) -> _Entity | None:
        for e in reversed(entities):
            if not e.names or not (set(m.name_parts) & e.names):
                continue
            if m.gender and e.gender and m.gender != e.gender:
                continue  # "Mr. Smith" is not "Mrs. Smith"
            if len(m.name_parts) > 1 and e.first_names and m.name_parts[0] not in e.first_names:
                if m.name_parts[0] not in e.names:
                    continue  # "John Sedley" is not "Amelia Sedley"
            if ("mrs" in m.titles and e.first_names and not e.titles & {"mrs"}) or (
                len(m.name_parts) > 1 and "mrs" in e.titles and not e.first_names
            ):
                continue  # "Mrs. Archer" is Newland Archer's mother, not Newland
            return e
        return None

    @staticmethod
    def _owner(doc: Any, m: _Mention, by_token: dict[int, _Mention]) -> int | None:
        """Whose this is, for "his mother", "Anna's brother": the possessor's entity."""
        for child in doc[m.head].lefts:
            if child.dep_ == "poss" and child.i in by_token:
                return by_token[child.i].entity
        return None

    def _match_description(self, m: _Mention, entities: list[_Entity], owner: int | None = None) -> _Entity | None:
        for e in sorted(entities, key=lambda e: -e.last_tok()):
            if e.number != m.number or all(x.standalone for x in e.mentions) or e.id == owner:
                continue  # nobody is their own sister
            if m.gender and e.gender and m.gender != e.gender:
                continue
            if m.lemma in e.nouns:
                known = e.owners.get(m.lemma)
                if owner is not None and known and owner not in known:
                    continue  # his mother is not her mother
                return e
        if m.number == "sg" and m.lemma in lx.GENERIC_CREATURE:
            for e in sorted(entities, key=lambda e: -e.last_tok()):
                if e.creature:
                    return e
        if m.number == "sg" and m.lemma in lx.GENERIC_PERSON and self.generic_window:
            for e in sorted(entities, key=lambda e: -e.last_tok()):
                if e.narrator or e.addressee or e.we or all(x.standalone for x in e.mentions):
                    continue
                if not e.creature and e.number == "sg" and (m.gender is None or e.gender in (None, m.gender)):
                    if m.head - e.last_tok() < self.generic_window:
                        return e
                    break
        return None

    def _match_pronoun(self, doc: Any, m: _Mention, entities: list[_Entity]) -> _Entity | None:
        best, best_score = None, float("-inf")
        sent_start = doc[m.head].sent.start
        for e in entities:
            if e.narrator or e.addressee or e.we or all(x.standalone for x in e.mentions):
                continue  # "I", "you" and "we" are not "he"; nor is what someone was said to be
            prior = [x for x in e.mentions if x.head < m.head]
            if not prior:
                continue
            if e.number != m.number:
                continue
            if m.gender == "n":
                if not e.creature or not (e.names or sum(x.type == "description" for x in e.mentions) >= 2):
                    continue  # "it" is a character only for a creature the story has made one
            elif m.gender in ("m", "f"):
                if e.gender not in (None, m.gender) or (e.creature and e.gender is None and e.names == set()):
                    continue
            if m.head - prior[-1].head > 400:
                continue
            score = float("-inf")
            for x in prior[-6:]:
                tok = doc[x.head]
                dist = m.head - x.head
                sc = -dist / self.w_distance
                if tok.dep_ in ("nsubj", "nsubjpass"):
                    sc += self.w_subject
                if x.type == "name":
                    sc += self.w_name
                if x.in_quote != m.in_quote:
                    sc -= self.w_quote  # the speaker of a quote is seldom the subject inside it
                if x.head >= sent_start:
                    sc += self.w_same_sentence
                    if (
                        tok.dep_ in ("nsubj", "nsubjpass")
                        and doc[m.head].dep_ in ("dobj", "pobj", "iobj", "dative")
                        and tok.head.i == _verb_of(doc[m.head]).i
                    ):
                        sc -= 8.0  # "he saw him": not the same person
                score = max(score, sc)
            score += min(len(prior), self.frequency_cap) * self.w_frequency
            if all(x.type == "pronoun" for x in prior):
                score -= self.w_unnamed
            if m.gender in ("m", "f") and e.gender is None and e.creature:
                score -= 3.0  # a creature is "it" until the story says otherwise
            if score > best_score:
                best, best_score = e, score
        return best

    @staticmethod
    def _vocative(doc: Any, m: _Mention) -> bool:
        """A name set off by commas or quotation marks at the edge of a clause, not an argument of a verb."""
        tok = doc[m.head]
        if tok.dep_ in ("nsubj", "nsubjpass", "dobj", "pobj", "iobj", "poss", "attr"):
            return False
        before = doc[m.start_tok - 1] if m.start_tok > 0 else None
        after = doc[m.end_tok] if m.end_tok < len(doc) else None
        edge = {",", "!", "?", ".", '"', "“", "”", "--"}
        return (before is None or before.text in edge) and (after is None or after.text in edge)

    def _quote_speakers(
        self, doc: Any, quote: list[int], mentions: list[_Mention], entities: list[_Entity]
    ) -> dict[int, _Entity]:
        """Who says each quotation: "X said" near it; else the speaker of the quotation just before when only a
        "he said," came between; else, in a dialogue of two, the one who spoke two quotations ago."""
        first_of: dict[int, int] = {}
        last_of: dict[int, int] = {}
        for i, q in enumerate(quote):
            if q:
                first_of.setdefault(q, i)
                last_of[q] = i
        out: dict[int, _Entity] = {}
        for b in sorted(first_of):
            found = self._speaker(doc, first_of[b], mentions, entities, quote)
            if found is None and b - 1 in out and first_of[b] - last_of[b - 1] <= 8:
                found = out[b - 1]
            if found is None and b - 1 in out and b - 2 in out and out[b - 1] is not out[b - 2]:
                found = out[b - 2]
            if found is not None:
                out[b] = found
        return out

    def _speaker(self, doc: Any, head: int, mentions: list[_Mention], entities: list[_Entity], quote) -> _Entity | None:
        """The entity that says the quotation holding mention ``m``: "..., X said" or "X said, ...".

        Looks at the sentences around the quote for a speech verb whose subject, outside the quotes, is a mention.
        """
        sent = doc[head].sent
        lo, hi = max(0, sent.start - 40), min(len(doc), sent.end + 40)
        by_head = {x.head: x for x in mentions if x.entity is not None}
        best, best_dist = None, 10**9
        for tok in doc[lo:hi]:
            if quote[tok.i] or tok.lemma_ not in lx.SPEECH_LEMMAS:
                continue
            for child in tok.children:
                if child.dep_ in ("nsubj", "nsubjpass") and not quote[child.i] and child.i in by_head:
                    d = abs(child.i - head)
                    if d < best_dist:
                        best, best_dist = entities[by_head[child.i].entity], d  # type: ignore[index]
        return best

    def _descriptors(self, doc: Any, m: _Mention) -> list[str]:
        """Role nouns a name is given: "the dragon Fafnir", "Mira, the healer", "Fafnir was a dragon"."""
        head = doc[m.head]
        out = [t.lemma_.lower() for t in doc[m.start_tok : m.head] if t.pos_ == "NOUN"]
        out += [t.lower_ for t in doc[m.start_tok : m.head] if t.lower_ in lx.TITLES and lx.TITLES[t.lower_]]
        for child in head.rights:
            if child.dep_ == "appos" and child.pos_ == "NOUN":
                out.append(child.lemma_.lower())
        if head.dep_ in ("nsubj",) and head.head.lemma_ == "be":
            for child in head.head.rights:
                if child.dep_ == "attr" and child.pos_ == "NOUN":
                    out.append(child.lemma_.lower())
        return [w for w in out if w in lx.PERSON_NOUNS or w in lx.CREATURE_NOUNS or w in lx.TITLES]

    # 3. characters -------------------------------------------------------------------------------------
    def _characters(self, doc: Any, entities: list[_Entity]) -> list[Character]:
        chars: list[Character] = []
        used_ids: set[str] = set()
        for e in entities:
            if all(m.type == "pronoun" for m in e.mentions) and not (e.narrator and len(e.mentions) > 1):
                continue
            if self._passing_animal(e) or all(x.standalone for x in e.mentions):
                continue
            mentions = self._mentions_of(doc, e)
            name = self._name(doc, e)
            cid = _slug(name, used_ids)
            gender = e.gender or ("n" if e.creature else None)
            chars.append(
                Character(
                    id=cid,
                    name=name,
                    mentions=mentions,
                    prompt=", ".join(self._prompt_words(doc, e)),
                    gender=gender,
                    number=e.number,
                )
            )
        return chars

    def _passing(self, doc: Any, m: _Mention) -> bool:
        # a name or description that only owns something ("the king's daughter") may not be in the picture
        return m.type != "pronoun" and doc[m.head].dep_ == "poss"

    def _name(self, doc: Any, e: _Entity) -> str:
        if e.narrator:
            return "the narrator"
        names = [m for m in e.mentions if m.type == "name"]
        if names:
            # the most complete form of the name, without titles
            best = max(names, key=lambda m: (len(m.name_parts), -m.start_tok))
            toks = [t for t in doc[best.start_tok : best.end_tok] if t.pos_ == "PROPN" and t.lower_ not in lx.TITLES]
            if toks:
                return " ".join(t.text for t in toks)
            return doc[best.head].text
        descs = [m for m in e.mentions if m.type == "description"]
        best = max(descs, key=lambda m: (m.end_tok - m.start_tok, -m.start_tok))
        words = [t.text for t in doc[best.start_tok : best.end_tok] if t.dep_ not in ("det", "poss")]
        return " ".join(words) or doc[best.head].text

    def _prompt_words(self, doc: Any, e: _Entity) -> list[str]:
        words: list[str] = []

        def add(phrase: str) -> None:
            phrase = re.sub(r"\s+", " ", phrase).strip(" ,.;:").lower()
            if phrase and phrase not in words:
                words.append(phrase)

        # the role: "prince", "old village healer", "dragon"
        for m in e.mentions:
            head = doc[m.head]
            mods = [
                t for t in doc[m.start_tok : m.head] if t.dep_ in ("amod", "compound") and t.pos_ in ("ADJ", "NOUN")
            ]
            if m.type == "description" and not m.in_quote and m.lemma not in lx.GENERIC_CREATURE:
                add(" ".join([t.text for t in mods] + [head.lemma_ if m.number == "sg" else head.text]))
            elif m.type == "name":
                for t in doc[m.start_tok : m.head]:
                    if t.lower_ in ("old", "young", "little") or (t.pos_ in ("NOUN", "ADJ") and t.dep_ != "det"):
                        add(t.text)
                    elif t.lower_ in lx.TITLES and lx.TITLES[t.lower_]:
                        add(t.text)
                for child in head.rights:
                    if child.dep_ == "appos" and child.pos_ == "NOUN":
                        add(
                            " ".join(
                                t.text for t in doc[_np_start(child) : child.i + 1] if t.dep_ not in ("det", "poss")
                            )
                        )
        # looks: "his grey hair", "wore silver armor", "with a red cloak"
        for m in e.mentions:
            tok = doc[m.head]
            if tok.dep_ == "poss" and tok.head.lemma_.lower() in lx.APPEARANCE_NOUNS:
                noun = tok.head
                if any(c.dep_ in ("amod", "compound") for c in noun.lefts):
                    add(" ".join(t.text for t in doc[_np_start(noun) : noun.i + 1] if t.dep_ not in ("det", "poss")))
            if tok.dep_ in ("nsubj",) and tok.head.lemma_ in lx.WEAR_LEMMAS:
                for obj in tok.head.children:
                    if obj.dep_ == "dobj":
                        add(" ".join(t.text for t in doc[_np_start(obj) : obj.i + 1] if t.dep_ not in ("det", "poss")))
                        for conj in obj.conjuncts:
                            add(
                                " ".join(
                                    t.text for t in doc[_np_start(conj) : conj.i + 1] if t.dep_ not in ("det", "poss")
                                )
                            )
            for prep in tok.rights:
                if prep.dep_ == "prep" and prep.lower_ == "with":
                    for obj in prep.children:
                        if obj.dep_ == "pobj" and obj.lemma_.lower() in lx.APPEARANCE_NOUNS:
                            add(
                                " ".join(
                                    t.text for t in doc[_np_start(obj) : obj.i + 1] if t.dep_ not in ("det", "poss")
                                )
                            )
        return words[:8]


def _slug(name: str, used: set[str]) -> str:
    from ..stages.characters import new_character_id

    cid = new_character_id(name, used)
    used.add(cid)
    return cid
