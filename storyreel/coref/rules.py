"""The rules engine: character mentions clustered with spaCy's parse and a few rules, in the spirit of a sieve.

1. find mentions: proper names (with titles), noun phrases headed by a person or creature noun (with their
   prepositional phrases and relative clauses), pronouns of all three persons. A capitalised word is a name by the
   story's own evidence (``_name_votes``: it acts, is named, stands beside a role noun), a place when the story
   puts it after "in" or "the ogres of"; a noun no list knows is someone when it does what only someone does;
2. bind what the syntax says is one person (``_bound``): appositions, "a princess named Andromeda", "Tiddalik the
   frog", "raised him as their son", "his name was Quill";
3. walk the mentions in order, linking each to an entity: names by their parts; descriptions by their noun or its
   kind, by kinship seen from either side ("her father" is the one whose daughter she is), "the beast" to the
   salient creature, an epithet ("the young man", "the youth") to the salient person of that sex and age;
   third-person pronouns to the most salient entity of the same gender and number (subject, recency, frequency,
   same side of a quotation's edge); then the first-person narrator, "I" inside a quotation to its speaker ("said
   X", a continuation, turn-taking, or a script line's speaker label), "we" to a company, "you" to whom the
   quotation is said to or calls by name, or who spoke before; "you" in narration is anyone;
4. a script's what-to-draw: each person it describes goes to the character of that line it fits, or to nobody;
5. collect each entity's prompt words from the text: its role noun, adjectives, what it wears, its looks.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..types import Character, Mention
from . import lexicon as lx
from .base import CorefEngine, Line

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
    subject: bool = False  # the subject of its verb, or one of several ("a monkey and a pheasant")


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
    label: str = ""  # the speaker label of a script ("Orpheus:"), for a speaker the speech never names
    age: str | None = None  # "young" or "old", as its descriptions say
    kinds: set[str] = field(default_factory=set)  # the kinds of its nouns: a python is a snake, a hag a witch
    of_names: list[tuple[str, str]] = field(default_factory=list)  # ("son", "taranga"): kin named before known
    ranks: set[str] = field(default_factory=set)  # "youngest", "eldest": the one of the family so called
    traits: set[str] = field(default_factory=set)  # "good", "bad": what its descriptions say it is like
    mods: set[str] = field(default_factory=set)  # the nouns its descriptions are of: "the goddess of fire" {"fire"}
    siblings: set[int] = field(default_factory=set)  # "his two children, Hansel and Gretel": each the other's

    def last_tok(self) -> int:
        return self.mentions[-1].head if self.mentions else -1


def _tokens(doc: Any) -> list[Any]:
    """The parse's tokens as a list, made once for a parse: spaCy makes a new token object at each ``doc[i]`` and
    each pass over the doc, and the passes below are many."""
    toks = doc.user_data.get(_TOKENS)
    if toks is None:
        toks = doc.user_data[_TOKENS] = list(doc)
    return toks


_TOKENS = "storyreel.tokens"


def _object_names(tok: Any) -> set[str]:
    """The names a subject's verb (and the verbs joined to it) acts on: "he leapt out and struck the Sun" -> {"sun"};
    nobody is the object of their own act."""
    if tok.dep_ not in ("nsubj", "nsubjpass") or tok.head.i == tok.i:
        return set()
    verbs = [tok.head] + [c for c in tok.head.children if c.dep_ == "conj" and c.pos_ in ("VERB", "AUX")
                          and not any(g.dep_ in ("nsubj", "nsubjpass") for g in c.children)]  # fmt: skip
    out = set()
    for v in verbs:
        for c in v.children:
            args = [c] if c.dep_ in ("dobj", "dative", "iobj") else [g for g in c.children if g.dep_ == "pobj"] if (
                c.dep_ == "prep") else []
            out |= {a.lower_ for a in args if a.pos_ == "PROPN"}
            out |= {a.lemma_.lower() for a in args if a.pos_ == "NOUN" and any(
                d.dep_ == "det" and d.lower_ == "the" for d in a.lefts)}  # "struck the Sun", "fought the dragon"
    return out


def _subjects(verb: Any) -> set[int]:
    """The subjects of a verb, its own or, for a verb joined to another, the first's ("he took the babe and left
    him": he)."""
    while True:
        own = {c.i for c in verb.children if c.dep_ in ("nsubj", "nsubjpass")}
        if own or verb.dep_ != "conj" or verb.head.i == verb.i:
            return own
        verb = verb.head


def _sex_prefix(tok: Any) -> str | None:
    """ "a she-wolf": f; "the he-goat": m."""
    doc = tok.doc
    if tok.i >= 2 and doc[tok.i - 1].text == "-" and doc[tok.i - 2].lower_ in ("she", "he"):
        return "f" if doc[tok.i - 2].lower_ == "she" else "m"
    return None


def _noun_mods(tok: Any) -> set[str]:
    """The nouns that tell one description from another of the same noun: "the sea goddess" and "the goddess of the
    sea" {"sea"}."""
    out = {c.lemma_.lower() for c in tok.lefts if c.dep_ == "compound" and c.pos_ in ("NOUN", "PROPN")}
    for p in tok.rights:
        if p.dep_ == "prep" and p.lower_ == "of":
            out |= {c.lemma_.lower() for c in p.children if c.dep_ == "pobj" and c.pos_ in ("NOUN", "PROPN")}
    return out


def _traits(tok: Any) -> set[str]:
    """Good or bad, as a description says: "the kind man" {"good"}, "the greedy brother", "the miser" {"bad"}."""
    words = {c.lower_ for c in tok.lefts if c.dep_ in ("amod", "advmod")}
    good, bad = bool(words & lx.GOOD), bool(words & lx.BAD) or tok.lemma_.lower() in lx.BAD_NOUNS
    return {"good"} if good and not bad else {"bad"} if bad and not good else set()


def _ranks(tok: Any) -> set[str]:
    """The rank in a family a description gives: "the youngest son" -> {"youngest"}; "eldest" and "oldest" are one."""
    words = ({c.lower_ for c in tok.lefts if c.dep_ in ("amod", "advmod")} | {tok.lower_}) & lx.RANKS.keys()
    return {lx.RANKS[w] for w in words}


def _quote_mask(doc: Any) -> list[int]:
    """For each token, the number of the quotation it is inside (1, 2, ...), or 0 outside quotes."""
    inside, mask, block = False, [], 0
    for tok in _tokens(doc):
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
        if child.dep_ in ("prep", "relcl") or (child.dep_ == "acl" and child.tag_ in ("VBN", "VBG", "VB")):
            end = max(end, child.right_edge.i)
    while end > tok.i and (tok.doc[end].is_punct or tok.doc[end].is_space or tok.doc[end].dep_ == "cc"):
        end -= 1
    return end


def _np_start(tok: Any) -> int:
    """Left edge of a noun phrase from its pre-modifiers (det, adjectives, compounds, possessors)."""
    start = tok.i
    for child in tok.lefts:
        if child.dep_ in ("compound", "advmod") and (child.pos_ == "PRON" or child.ent_type_ in ("TIME", "DATE")):
            continue  # "called him Dastan" tagged as one name; "One morning Llywelyn"
        if child.dep_ in ("det", "amod", "compound", "poss", "nummod", "nmod", "advmod", "case"):
            start = min(start, child.left_edge.i)
    doc = tok.doc
    toks = _tokens(doc)
    while start < tok.i and (toks[start].is_space or toks[start].is_punct or (
            toks[start].dep_ == "advmod" and toks[start].lower_ in lx.SENTENCE_OPENERS)):  # "There the Simurgh"
        start += 1
    return start


class RulesEngine(CorefEngine):
    name = "rules"
    _animate: set[str] = set()  # nouns the story being read makes someone (see _animate_nouns)
    # how a pronoun weighs a candidate antecedent mention (tuned on LitBank's development documents)
    w_distance = 20.0  # tokens per point lost
    w_subject = 3.0
    w_name = 1.0
    w_same_sentence = 2.0
    w_quote = 6.0
    w_frequency = 0.8
    frequency_cap = 5
    w_unnamed = 0.0  # lost by an entity known only by pronouns
    generic_window = 80  # tokens within which "the man" is the man just mentioned
    w_unknown_sex = 2.0  # lost by an unnamed candidate of unknown sex for "he" or "she"
    you_window = 250  # tokens over which a quoted "you" stays the same person
    w_introduced = 3.0  # for a sentence's opening "he": someone named for the first time in the sentence before

    def find_characters(self, text: str, doc: Any, lines: Sequence[Line] = ()) -> list[Character]:
        self._text = text  # the parse's text (spaCy joins its tokens' text at each ``doc.text``)
        try:
            entities = self._entities(doc, lines)
            return self._characters(doc, entities, self._visual_mentions(doc, lines, entities))
        finally:
            doc.user_data.pop(_TOKENS, None)  # the parse is left as it came

    def _passing_animal(self, e: _Entity) -> bool:
        """A creature without a name, met once and doing nothing ("a startled cat"): scenery, not a character."""
        if not e.creature or e.names or sum(m.type == "description" for m in e.mentions) >= 2:
            return False
        return not any(m.dep in ("nsubj", "nsubjpass") or m.dep == "conj" and m.subject for m in e.mentions)

    def _entities(self, doc: Any, lines: Sequence[Line] = ()) -> list[_Entity]:
        quote = _quote_mask(doc)
        speakers: dict[int, str] = {}  # a script line's words are a quotation of its speaker's
        starts = [t.idx for t in _tokens(doc)]
        for line in lines:
            if line.speaker is None:
                continue
            block = max(quote, default=0) + 1
            speakers[block] = line.speaker
            for i in range(bisect.bisect_left(starts, line.start), bisect.bisect_left(starts, line.end)):
                quote[i] = block
        mentions = self._mentions(doc, quote)
        self._quote, self._by_block = quote, {}
        for m in mentions:
            if m.block:
                self._by_block.setdefault(m.block, []).append(m)
        return self._cluster(doc, mentions, quote, speakers)

    def _mentions_of(self, doc: Any, e: _Entity) -> list[Mention]:
        toks, text, out = _tokens(doc), self._text, []
        for m in sorted(e.mentions, key=lambda m: m.start_tok):
            start, last = toks[m.start_tok].idx, toks[m.end_tok - 1]
            end = last.idx + len(last.text)
            out.append(Mention(start, end, text[start:end], m.type, passing=self._passing(doc, m)))
        return out

    # 1. mentions ---------------------------------------------------------------------------------------
    def _mentions(self, doc: Any, quote: list[int]) -> list[_Mention]:
        out: list[_Mention] = []
        taken: set[int] = set()
        # names are known by their parts once a confident mention has shown them ("Fafnir roared")
        toks = _tokens(doc)
        self._animate = self._animate_nouns(toks)
        votes = self._name_votes(toks)
        known = {t.lower_ for t in toks if t.pos_ == "PROPN" and self._is_name_head(t) and votes.get(t.lower_, 0) >= 0}
        known |= {w for w, v in votes.items() if v >= 2}
        for tok in toks:
            if tok.i in taken:
                continue
            low = tok.lower_
            if tok.pos_ not in self._MENTION_POS and low not in lx.INDEFINITE_PERSONS and not tok.text[:1].isupper():
                continue  # verbs, prepositions, punctuation...: what no mention starts from
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
            common = (self._role_noun(tok) or tok.lemma_.lower() in self._animate) and any(
                c.dep_ == "det" for c in tok.lefts)  # "a terrible Beast", "the North Wind"
            titled = tok.i > 0 and toks[tok.i - 1].text[:1].isupper() and (  # "Grandmother Spider", "Brother Rabbit"
                toks[tok.i - 1].lower_ in lx.TITLES or toks[tok.i - 1].lower_ in lx.PERSON_NOUNS)
            place = (votes.get(low, 0) < 0 or self._opening_word(tok)) and not titled  # "in Ulster", "the ogres of Onigashima", whatever the NER says
            if not common and not place and tok.text[:1].isupper() and (
                    (tok.pos_ == "PROPN" and self._is_name_head(tok)) or (
                tok.lower_ in known and tok.text[:1].isupper() and not self._followed_by_propn(tok)
            )):
                m = self._name_mention(doc, tok, quote)
                if m is not None:
                    taken.update(range(m.start_tok, m.end_tok))
                    out.append(m)
                continue
            if tok.pos_ == "NOUN" or (tok.pos_ == "ADJ" and low in lx.PERSON_NOUNS and tok.dep_ in (
                    "nsubj", "nsubjpass", "dobj", "pobj", "attr", "appos", "npadvmod", "conj")) or (
                tok.pos_ == "PROPN"
                and (
                    tok.text.islower()
                    or tok.ent_type_ == "NORP"
                    or tok.lower_ in lx.BARE_PERSON
                    or common
                )
            ):  # "the old god", "the Egyptians", "Madam", "The Old Man", "the Gorgon": nouns taken for names
                m = self._description(doc, tok, quote, known)
                if m is not None:
                    out.append(m)
        out.sort(key=lambda m: m.start_tok)
        for m in out:
            m.dep = toks[m.head].dep_
            top = toks[m.head]
            while top.dep_ == "conj" and top.head.i != top.i:
                top = top.head
            m.subject = top.dep_ in ("nsubj", "nsubjpass")  # "A monkey and a pheasant did the same"
        return out

    _MENTION_POS = frozenset(("PRON", "DET", "PROPN", "NOUN", "ADJ"))
    _PLACE_PREPS = frozenset("in at to from into near towards toward across through via".split())

    @staticmethod
    def _animate_nouns(doc: Sequence[Any]) -> set[str]:
        """Nouns the story makes someone, though no word list knows them: the subject of what only someone does
        ("a kookaburra laughed", "the Moon wept", "the weary Sun begged")."""
        introduced = {t.head.lemma_.lower() for t in doc if t.lower_ in ("a", "an") and t.dep_ == "det"}
        acting = {t.lemma_.lower() for t in doc if t.dep_ in ("nsubj", "nsubjpass", "appos", "vocative") or (
            t.dep_ == "pobj" and t.head.lower_ == "to" and t.head.head.lemma_ in lx.TO_SOMEONE)}  # "called to the Wind"
        personified = {t.lemma_.lower() for t in doc if t.lemma_.lower() in lx.NATURE and t.text[:1].isupper()
                       and not t.is_sent_start and t.lemma_.lower() in acting}  # "the Sun", "the North Wind" acting
        return {t.lemma_.lower() for t in doc if t.pos_ in ("NOUN", "PROPN") and t.dep_ in ("nsubj", "nsubjpass")
                and t.head.lemma_ in lx.ANIMATE_VERBS and not t.ent_type_ and t.lemma_.lower() not in lx.NOT_SOMEONE
                and not any(c.dep_ == "poss" for c in t.lefts)
                and (t.lemma_.lower() in introduced or t.lemma_.lower() in lx.NATURE)} | personified  # fmt: skip

    def _name_votes(self, doc: Sequence[Any]) -> dict[str, int]:
        """How much the story treats each capitalised word as someone: 2 or more is a name, whatever the NER thinks
        ("Hermes lent him sandals", "his bride Eurydice", "Athena, the grey-eyed goddess"); below 0, a place."""
        votes: dict[str, int] = {}
        for t in doc:
            if t.pos_ != "PROPN" or not t.text[:1].isupper() or t.lower_ in lx.TITLES:
                continue
            votes[t.lower_] = votes.get(t.lower_, 0) + self._name_evidence(t)
        return votes

    @staticmethod
    def _renamed(t: Any) -> Any:
        """Who a name is given to, in "gave him a new name, Colm" and "his name was Quill": that token, or None."""
        if t.dep_ == "appos" and t.head.lemma_ == "name":
            noun = t.head
            if any(c.dep_ == "poss" for c in noun.lefts):
                return next(c for c in noun.lefts if c.dep_ == "poss")
            return next((c for c in noun.head.children if c.dep_ in ("dative", "iobj") or (
                c.dep_ == "dobj" and c.i != noun.i)), None)
        if t.dep_ == "attr" and t.head.lemma_ == "be":
            subj = next((c for c in t.head.children if c.dep_ == "nsubj" and c.lemma_ == "name"), None)
            if subj is not None:
                poss = next((c for c in subj.lefts if c.dep_ == "poss"), None)
                if poss is not None and poss.lower_ == "whose" and t.head.dep_ == "relcl":
                    return t.head.head  # "The younger, whose name was Heungbu,"
                return poss
        return None

    @staticmethod
    def _opening_word(t: Any) -> bool:
        """ "Ashamed, the warrior ...", "Trembling, she ...": a word capitalised only because it opens a sentence."""
        return t.is_sent_start and t.lower_.endswith(("ed", "ing", "ly")) and (
            t.i + 1 < len(t.doc) and t.doc[t.i + 1].text == ",")

    @staticmethod
    def _the_role_after(t: Any) -> bool:
        """ "Tiddalik the frog", "Sam the Warrior", "Kofi the hare": a name and, right after it, what it is."""
        doc = t.doc
        toks = _tokens(doc)
        i = t.i + 1
        if i >= len(doc) or toks[i].lower_ != "the":
            return False
        i += 1
        while i < len(doc) and toks[i].pos_ == "ADJ" and toks[i].i < t.i + 5:
            i += 1
        return i < len(doc) and RulesEngine._role_noun(toks[i])

    def _name_evidence(self, t: Any) -> int:
        """How much one use of a capitalised word says it is someone: 2 for what only people and creatures do
        (act, be called so, stand beside a role noun), 1 for what they often do (own, be spoken of by the NER as a
        person); -1 for what places do (come after "in", "at", "to")."""
        v = 0
        if self._the_role_after(t):
            v = 3
        elif t.dep_ in ("nsubj", "nsubjpass"):
            v = 1 if t.head.lemma_ in ("be", "have") else 2
        elif t.dep_ == "appos" and self._role_noun(t.head) or any(
                c.dep_ == "appos" and c.pos_ in ("NOUN", "PROPN") and self._role_noun(c) for c in t.rights):
            v = 2  # "his bride Eurydice", "Hades, the lord of the dead"
        elif t.dep_ == "oprd" and t.head.lemma_ in ("name", "call"):  # "named him Momotaro", "a girl named Ana"
            named = [c for c in t.head.children if c.dep_ in ("dobj", "nsubjpass")]
            named += [c for c in t.doc[t.head.i + 1 : t.i] if c.pos_ == "PRON"]  # "called him Dastan", however parsed
            named += [t.head.head] if t.head.dep_ in ("acl", "relcl") else []
            v = 2 if any(c.lower_ in lx.PRONOUNS and c.lower_ not in ("it", "which", "that")
                         or self._role_noun(c) for c in named) else 0  # fmt: skip
        elif self._renamed(t) is not None:
            v = 2  # "gave him a new name, Colm", "his name was Quill"
        elif t.ent_type_ == "PERSON" or t.dep_ in ("poss", "npadvmod"):
            v = 1
        elif t.dep_ == "pobj" and t.head.lower_ == "to" and t.head.head.lemma_ in lx.TO_SOMEONE:
            v = 1  # "she said to Dastan", "gave it to Ama"
        elif t.dep_ == "pobj" and t.head.lower_ in self._PLACE_PREPS:
            v = -1
        elif t.dep_ == "pobj" and t.head.lower_ == "of" and t.head.head.pos_ == "NOUN":
            v = 2 if t.head.head.lemma_.lower() in lx.KIN else -1  # "the son of Danae"; "the ogres of Onigashima"
        if t.ent_type_ in ("GPE", "LOC", "FAC") and t.dep_ not in ("nsubj", "nsubjpass", "poss") and v < 2:
            v -= 1
        return v

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
        toks = _tokens(doc)
        start = tok.i
        while (
            start > 0
            and toks[start - 1].pos_ == "PROPN"
            and toks[start - 1].lower_ not in lx.PRONOUNS  # "called him Dastan", however tagged
            and (
                toks[start - 1].ent_type_ in ("PERSON", "")
                or (toks[start - 1].dep_ == "compound" and toks[start - 1].head.i == tok.i)
            )
        ):
            start -= 1
        while start < tok.i and toks[start].is_sent_start and toks[start].lower_ in lx.SENTENCE_OPENERS:
            start += 1  # "First Momotaro ...": an adverb the tagger took for part of the name
        # titles written in lower case or tagged as nouns ("Mr.", "King")
        while start > 0 and toks[start - 1].lower_ in lx.TITLES:
            start -= 1
        name_start = start
        # a role noun before the name: "the witch Agatha"
        if start > 1 and toks[start - 1].pos_ == "NOUN" and self._role_noun(toks[start - 1]) and not (
                tok.dep_ == "oprd" and toks[start - 1].dep_ == "dobj"):  # "called the cat Puss": two mentions
            if toks[start - 2].dep_ == "det":
                start -= 2
        np_start = min(start, _np_start(tok))
        while toks[np_start].is_space or toks[np_start].is_punct:
            np_start += 1
        end = tok.i
        while (
            end + 2 < len(doc)
            and toks[end + 1].text == "-"
            and not toks[end].whitespace_
            and (toks[end + 2].pos_ == "PROPN" or toks[end + 2].text[:1].isupper())
        ):
            end += 2  # "Foucquier-Tinville"
        if (end + 2 < len(doc) and toks[end + 1].lower_ == "the" and toks[end + 2].text[:1].isupper()
                and toks[end + 2].pos_ in ("PROPN", "ADJ") and not self._role_noun(toks[end + 2])):
            end += 2  # "Llywelyn the Great", "Erik the Red"
        parts = [t for t in toks[name_start : tok.i + 1] if t.lower_ not in lx.TITLES and t.is_alpha]
        if not parts:
            return None
        gender = None
        for t in toks[np_start : tok.i + 1]:
            g = lx.TITLES.get(t.lower_) or lx.PERSON_NOUNS.get(t.lemma_.lower())
            if g:
                gender = g
                break
        first = parts[0].lower_
        if gender is None:
            gender = "m" if first in lx.FIRST_NAMES_M else "f" if first in lx.FIRST_NAMES_F else _sex_prefix(tok)
        creature = any(t.lemma_.lower() in lx.CREATURE_NOUNS for t in toks[np_start : tok.i])
        m = _Mention(
            np_start,
            end + 1,
            tok.i,
            "name",
            gender,
            "pl" if tok.tag_ == "NNPS" or tok.lemma_.lower() in lx.COLLECTIVE else "sg",
            lemma=" ".join(t.lower_ for t in parts),
            name_parts=tuple(t.lower_ for t in parts),
            titles=frozenset(t.lower_.rstrip(".") for t in toks[np_start : tok.i] if t.lower_ in lx.TITLES),
            in_quote=bool(quote[tok.i]),
            block=quote[tok.i],
            creature=creature,
        )
        return m

    def _person_noun(self, tok: Any) -> tuple[bool, str | None]:
        """Is this noun a person (or creature), and its gender."""
        lemma, low = tok.lemma_.lower(), tok.lower_
        if tok.pos_ == "ADJ":
            lemma = low  # "the youngest", not "young"
        if lemma in lx.PERSON_NOUNS:
            return True, lx.PERSON_NOUNS[lemma]
        if low in lx.PLURAL_PERSON_NOUNS or lemma in lx.CREATURE_NOUNS or lemma in self._animate:
            return True, _sex_prefix(tok) or ("f" if lemma in lx.FEMALE_ANIMALS else None)
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
        if tok.dep_ == "appos" and tok.pos_ == "NOUN" and self._appos_of_someone(tok):
            return True, None  # "her neighbour, a rich mole": what no list knows, a person stands for
        return False, None

    def _appos_of_someone(self, tok: Any) -> bool:
        """ "her neighbour, a rich mole", "the guest, a shy hedgehog": an indefinite noun set beside someone known."""
        head = tok.head
        return (head.pos_ == "NOUN" and self._role_noun(head) and head.lemma_.lower() not in lx.COLLECTIVE
                and any(c.dep_ == "poss" or c.dep_ == "det" and c.lower_ == "the" for c in head.lefts)
                and any(c.dep_ == "det" and c.lower_ in ("a", "an") for c in tok.lefts)
                and tok.left_edge.i > 0 and tok.doc[tok.left_edge.i - 1].text == ","
                and not any(c.dep_ == "prep" and c.lower_ == "of" for c in tok.rights))  # fmt: skip

    def _someone_is(self, verb: Any) -> bool:
        """The subject of "was"/"became" is someone ("he was an old man"), not a thing ("the smoke became a jinni",
        "inside was a jinni": a new character)."""
        subj = next((c for c in verb.children if c.dep_ in ("nsubj", "nsubjpass")), None)
        return subj is not None and (subj.pos_ in ("PRON", "PROPN") or self._person_noun(subj)[0])

    def _description(self, doc: Any, tok: Any, quote: list[int], known: set[str]) -> _Mention | None:
        toks = _tokens(doc)
        lemma = tok.lemma_.lower() if tok.pos_ != "ADJ" else tok.lower_
        plural = tok.tag_ in ("NNS", "NNPS")
        person, gender = self._person_noun(tok)
        if not person:
            return None
        if tok.dep_ == "compound":
            return None  # "the dragon Fafnir": part of a name
        nxt = toks[tok.i + 1] if tok.i + 1 < len(doc) else None
        if nxt is not None and nxt.pos_ == "PROPN" and (self._is_name_head(nxt) or nxt.lower_ in known) and not any(
                c.dep_ == "poss" for c in tok.lefts):
            return None  # "the witch Agatha": the name's mention holds it; "her son Perseus" is two, one person
        # what someone is said to be or becomes: "He was an elderly man", "the beast turned into a prince"
        predicate = (tok.dep_ == "attr" and tok.head.lemma_ in ("be", "become") and self._someone_is(tok.head)) or (
            tok.dep_ == "pobj" and tok.head.lower_ == "into" and tok.head.head.lemma_ in ("turn", "change", "transform"))
        det = next((c for c in tok.lefts if c.dep_ in ("det", "poss", "nummod")), None)
        if det is not None and det.lower_ in ("a", "an") and tok.dep_ == "pobj" and tok.head.lower_ == "of" and (
                tok.head.head.pos_ == "NOUN" and not self._person_noun(tok.head.head)[0]
                and tok.head.head.lemma_.lower() not in lx.DWELLINGS):  # "the castle of an ogre" is the ogre's
            return None  # "the horns of a bull", "the strength of ten men": what something is like
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
    def _cluster(self, doc: Any, mentions: list[_Mention], quote: list[int],
                 speakers: dict[int, str] | None = None) -> list[_Entity]:  # fmt: skip
        toks = _tokens(doc)
        entities: list[_Entity] = []

        def new(m: _Mention) -> _Entity:
            e = _Entity(len(entities), number=m.number, gender=m.gender, creature=m.creature)
            entities.append(e)
            return e

        def attach(m: _Mention, e: _Entity) -> None:
            m.entity = e.id
            e.mentions.append(m)
            by_token[m.head] = m
            tok = toks[m.head]
            if tok.dep_ == "nsubj" and tok.head.lemma_ in ("be", "become"):  # "He was an old man": he is a man
                for attr in tok.head.rights:
                    if attr.dep_ == "attr" and attr.pos_ == "NOUN" and self._person_noun(attr)[0]:
                        key = lx.KIN_SAME.get(attr.lemma_.lower(), attr.lemma_.lower())
                        e.nouns.add(key)
                        e.ranks |= _ranks(attr)  # "Maui was the youngest son": later "the youngest brother"
                        whose = self._of_owner(attr, entities)  # "Maui was the youngest son of Taranga"
                        if whose is not None and whose != e.id:
                            e.owners.setdefault(key, set()).add(whose)
                        elif whose is None:
                            e.of_names.extend((key, t.lower_) for p in attr.rights if p.lower_ == "of"
                                              for t in p.children if t.pos_ == "PROPN")  # fmt: skip
            if m.type == "name":
                e.age = e.age or self._age(toks[m.head])  # "Old Vainamoinen", "Young Joukahainen"
                e.names.update(m.name_parts)
                e.titles.update(m.titles)
                if len(m.name_parts) > 1:
                    e.first_names.add(m.name_parts[0])
            if m.type == "description":
                e.nouns.update({m.lemma, lx.KIN_SAME.get(m.lemma, m.lemma)})
                e.nouns.update(c.lemma_.lower() for c in tok.lefts  # "a wolf pup": a wolf; "the monkey king"
                               if c.dep_ == "compound" and c.lemma_.lower() in lx.CREATURE_NOUNS)  # fmt: skip
                e.kinds.update(lx.KIND.get(n, n) for n in e.nouns)
                if m.lemma in lx.GENERIC_PERSON and any(c.lower_ in lx.SMALL for c in tok.lefts):
                    e.kinds.add("dwarf")  # "a tiny old man" ... "the dwarf"
                e.age = e.age or self._age(tok) or ("old" if m.lemma in lx.PARENTS else None)
                e.ranks |= _ranks(tok)
                e.traits |= _traits(tok)
                e.mods |= _noun_mods(tok)
            if e.gender is None and m.gender in ("m", "f"):
                e.gender = m.gender
            e.creature = e.creature or m.creature

        later: list[_Mention] = []
        by_token: dict[int, _Mention] = {}  # head token -> mention, for possessors
        bound = self._bound(doc, mentions)
        for m in mentions:
            same = bound.get(m.head)
            if same is not None and same.entity is not None and self._agree(m, entities[same.entity]):
                e = entities[same.entity]
                known = self._match_name(m, entities) if m.type == "name" else None
                if known is not None and known is not e:  # "the fish ... revealed herself as Aino": Aino all along
                    self._merge(e, known)
                    e = known
                attach(m, e)  # "his bride Eurydice", "a princess named Andromeda"
                for noun in self._descriptors(doc, m) if m.type == "name" else ():
                    e.nouns.add(noun)
                owner = self._owner(doc, m, by_token, entities) if m.type == "description" else None
                if owner is not None and owner != e.id:  # "raised him as their own son"
                    e.owners.setdefault(self._kin_key(m.lemma, True), set()).add(owner)
                continue
            if m.type == "pronoun" and m.person == 1 and m.number == "sg" and m.block in (speakers or {}):
                attach(m, self._speaker_entity(speakers[m.block], entities))  # type: ignore[index]
                continue  # a script line's "I" is its speaker, known as the line is read
            if m.type == "pronoun" and m.person == 1:
                later.append(m)
                continue
            if m.type == "pronoun" and m.person == 2:
                later.append(m)
                continue
            if m.type == "name":
                e = self._match_name(m, entities) or self._named_now(doc, m, entities)
                attach(m, e or new(m))
                self._note_siblings(doc, m, entities, by_token)
                for noun in self._descriptors(doc, m):
                    e2 = entities[m.entity]  # type: ignore[index]
                    e2.nouns.add(noun)
                    if noun in lx.CREATURE_NOUNS:
                        e2.creature = True
                    if e2.gender is None and lx.PERSON_NOUNS.get(noun):
                        e2.gender = lx.PERSON_NOUNS[noun]
            elif m.type == "description":
                owner = self._owner(doc, m, by_token, entities)
                called = m.in_quote and self._vocative(doc, m)  # "Move aside, old man!"
                speaker = self._speaker_entity(speakers[m.block], entities) if called and m.block in (
                    speakers or {}) else None  # "Sun: Why do you beat me, little man?": not the Sun
                e = self._match_description(doc, m, entities, owner, speaker) if (
                    m.definite or called) and not m.standalone else None
                attach(m, e or new(m))
                if owner is not None:
                    key = self._kin_key(m.lemma, True)
                    entities[m.entity].owners.setdefault(key, set()).add(owner)  # type: ignore[index]
            else:
                speaker = self._speaker_entity(speakers[m.block], entities) if m.block in (speakers or {}) else None
                e = self._conjoined_owner(doc, m, by_token, entities) or self._match_pronoun(doc, m, entities,
                                                                                             speaker)
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
        for block, label in (speakers or {}).items():  # a script line's words are its speaker's
            speaker_of[block] = self._speaker_entity(label, entities)
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
        for x in mentions:  # '"...," she said to Dastan': whom the quotation beside it speaks to
            tok = toks[x.head]
            if (x.entity is not None and not x.in_quote and tok.dep_ == "pobj" and tok.head.lower_ in ("to", "at")
                    and tok.head.head.lemma_ in lx.SPEECH_LEMMAS):
                near = {quote[i] for i in range(max(0, x.head - 40), min(len(doc), x.head + 40)) if quote[i]}
                for b in near - set(speakers or {}):  # a script line speaks to whom its own words say
                    vocative.setdefault(b, entities[x.entity])
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

    @staticmethod
    def _speaker_entity(label: str, entities: list[_Entity]) -> _Entity:
        """Who a script's speaker label is: the character of that name ("Orpheus"), else the one called by that
        noun ("Fisherman" after "a poor fisherman"), else a character of its own, named by the label."""
        words = [w.lower() for w in re.findall(r"[^\W\d_]+", label)]
        parts = set(words) - set(lx.TITLES)
        ranked = sorted(entities, key=lambda e: -len(e.mentions))
        e = next((x for x in ranked if x.names and (x.names & parts or x.label == label)), None)
        if e is None and words:
            e = next((x for x in ranked if words[-1] in x.nouns and x.number == "sg" and not x.names), None)
        if e is None:
            e = _Entity(len(entities), names=parts, label=label, gender=_label_gender(label))
            entities.append(e)
        if not e.names and not e.label:
            e.label = label
        return e

    @staticmethod
    def _bound(doc: Any, mentions: list[_Mention]) -> dict[int, _Mention]:
        """Mentions the syntax says are one person with an earlier mention: an apposition ("his bride Eurydice",
        "Medusa, the Gorgon", "their chief, a red demon"), a naming ("a princess named Andromeda", "named him
        Momotaro"), a role given ("raised him as their own son")."""
        toks = _tokens(doc)
        by_head = {m.head: m for m in mentions}
        for m in mentions:  # "Llywelyn the Great, a prince of Wales": the parse may hang the apposition on "Great"
            if m.type == "name":
                for i in range(m.head + 1, m.end_tok):
                    by_head.setdefault(i, m)
        by_end = {m.end_tok: m for m in mentions}
        out: dict[int, _Mention] = {}
        for m in mentions:
            tok = toks[m.head]
            other = None
            if tok.dep_ == "appos" and not any(c.dep_ in ("conj", "cc") for c in tok.children):
                other = by_head.get(tok.head.i)  # (not "a young hunter, a tall hunter and a rich hunter")
            elif tok.dep_ == "oprd" and tok.head.lemma_ in ("name", "call"):
                verb = tok.head
                other = by_head.get(verb.head.i) if verb.dep_ == "acl" else next(  # "he was called Cu Chulainn"
                    (by_head.get(c.i) for c in verb.children if c.dep_ in ("dobj", "nsubjpass") and c.i in by_head),
                    None)
                if other is None and m.start_tok > 0 and toks[m.start_tok - 1].pos_ == "PRON":
                    other = by_head.get(m.start_tok - 1)  # "called him Dastan", whatever the parse made of "him"
            elif tok.dep_ == "pobj" and (tok.head.lower_ == "as" or tok.head.lower_ == "for" and _verb_of(
                    tok.head).lemma_ == "take") and _verb_of(tok.head).pos_ in ("VERB", "AUX"):
                verb = _verb_of(tok.head)  # "raised him as their son"; "revealed himself as a heron"; "took him
                # for her husband"
                objs = [c for c in verb.children if c.dep_ == "dobj" and c.i in by_head and not c.lower_.endswith(
                    ("self", "selves"))]
                clause = verb.head if verb.dep_ == "conj" and not any(
                    c.dep_ in ("nsubj", "nsubjpass") for c in verb.children) else verb  # "... and revealed himself"
                subj = [c for c in clause.children if c.dep_ in ("nsubj", "nsubjpass") and c.i in by_head]
                other = by_head[objs[0].i] if objs else by_head[subj[0].i] if subj else None
            elif tok.dep_ == "pobj" and tok.head.lower_ == "into" and tok.head.head.lemma_ in ("grow", "turn") and (
                    tok.head.head.lemma_ == "grow"):
                other = next((by_head.get(c.i) for c in tok.head.head.children  # "grew into a tall youth"
                              if c.dep_ == "nsubj" and c.i in by_head), None)  # fmt: skip
            if other is None and m.type == "name":
                given = RulesEngine._renamed(tok)
                other = by_head.get(given.i) if given is not None else None
            if other is None and m.type == "description" and m.start_tok > 0 and toks[m.start_tok].lower_ == "the":
                before = by_end.get(m.start_tok)  # "Tiddalik the frog", whatever the parse made of it
                if before is not None and before.type == "name":
                    other = before
            if other is not None and other.start_tok < m.start_tok and other.person == 3:
                out[m.head] = other
        return out

    @staticmethod
    def _merge(src: _Entity, dst: _Entity) -> None:
        """All of ``src`` becomes ``dst``'s: its mentions, names, nouns and kin."""
        for x in src.mentions:
            x.entity = dst.id
        dst.mentions = sorted(dst.mentions + src.mentions, key=lambda x: x.start_tok)
        src.mentions = []
        dst.names |= src.names
        dst.nouns |= src.nouns
        dst.kinds |= src.kinds
        for noun, ids in src.owners.items():
            dst.owners.setdefault(noun, set()).update(ids)
        dst.gender = dst.gender or src.gender
        dst.age = dst.age or src.age
        dst.ranks |= src.ranks
        dst.traits |= src.traits
        dst.mods |= src.mods
        dst.siblings |= src.siblings

    @staticmethod
    def _agree(m: _Mention, e: _Entity) -> bool:
        return e.number == m.number and (m.gender is None or e.gender in (None, m.gender))

    def _note_siblings(self, doc: Any, m: _Mention, entities: list[_Entity], by_token: dict[int, _Mention]) -> None:
        """Names joined by "and" as what a family's children are called ("his two children, Hansel and Gretel",
        "named the boys Romulus and Remus") are brother and sister: later "her brother" is the other one."""
        tok = _tokens(doc)[m.head]
        if tok.dep_ != "conj" or tok.head.i not in by_token:
            return
        first = tok.head
        group = first.head if first.dep_ in ("appos", "oprd") else None
        if group is not None and first.dep_ == "oprd":  # "named the boys X and Y": the object named
            group = next((c for c in group.children if c.dep_ == "dobj"), None)
        if group is None or group.lemma_.lower() not in lx.SIBLING_GROUPS:
            return
        a, b = entities[by_token[first.i].entity], entities[m.entity]  # type: ignore[index]
        if a is not b:
            a.siblings.add(b.id)
            b.siblings.add(a.id)

    def _named_now(self, doc: Any, m: _Mention, entities: list[_Entity]) -> _Entity | None:
        """The one we knew without a name, named now with the noun it went by: "the cat" ... "the cat Puss"."""
        toks = _tokens(doc)
        if toks[m.start_tok].lower_ != "the" or m.head - m.start_tok < 2:
            return None
        noun = toks[m.head - 1]
        if noun.pos_ != "NOUN" or not self._role_noun(noun):
            return None
        lemma = noun.lemma_.lower()
        return next((e for e in sorted(entities, key=lambda e: -e.last_tok()) if lemma in e.nouns and not e.names
                     and e.number == m.number and e.mentions and m.head - e.last_tok() < 400), None)  # fmt: skip

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
    def _owner(doc: Any, m: _Mention, by_token: dict[int, _Mention], entities: list[_Entity]) -> int | None:
        """Whose this is, for "his mother", "Anna's brother", "the son of Danae": the possessor's entity."""
        toks = _tokens(doc)
        for child in toks[m.head].lefts:
            if child.dep_ == "poss" and child.i in by_token:
                return by_token[child.i].entity
        if m.lemma not in lx.KIN:
            return None
        return RulesEngine._of_owner(toks[m.head], entities)

    @staticmethod
    def _of_owner(tok: Any, entities: list[_Entity]) -> int | None:
        """The named one in "the son of Danae"."""
        for prep in tok.rights:
            if prep.dep_ == "prep" and prep.lower_ == "of":
                for obj in prep.children:
                    if obj.dep_ == "pobj" and obj.pos_ == "PROPN":
                        return next((e.id for e in reversed(entities) if obj.lower_ in e.names), None)
        return None

    def _match_description(self, doc: Any, m: _Mention, entities: list[_Entity], owner: int | None = None,
                           speaker: _Entity | None = None) -> _Entity | None:  # fmt: skip
        """Who a definite description is: one already called so ("the king" after "King Polydectes"); kin seen
        from the other side ("her father" is the one whose daughter she is); "the beast" the creature the story is
        about; an epithet ("the young man", "the youth", "the grieving musician") the person it is about. Never
        ``speaker``, who says the quotation the description calls someone by."""
        toks = _tokens(doc)
        key = self._kin_key(m.lemma, owner is not None)
        age = self._age(toks[m.head])
        ranks = _ranks(toks[m.head])
        compound = any(c.dep_ == "compound" for c in toks[m.head].lefts)  # "the Jade Emperor" is not "the monkey king"
        mods, same_noun = _noun_mods(toks[m.head]), []
        unlike = {"good": "bad", "bad": "good"}.get(next(iter(_traits(toks[m.head])), ""), "")
        for e in sorted(entities, key=lambda e: -e.last_tok()):
            if e.number != m.number or all(x.standalone for x in e.mentions) or e.id == owner or e is speaker:
                continue  # nobody is their own sister
            if unlike in e.traits:
                continue  # "the kind man" is not the greedy one
            if age and e.age is None and m.lemma in lx.GENERIC_PERSON:
                continue  # "a greedy man" ... "the old man": rather the one known to be old, if any (below)
            if m.gender and e.gender and m.gender != e.gender:
                continue
            if age and e.age and age != e.age:
                continue  # "the old sailor" is not "the young sailor"
            if ranks and e.ranks and not ranks & e.ranks:
                continue  # "her youngest sister" is not "her elder sister"
            if ranks & e.ranks and (key in lx.KIN or key in lx.SIBLINGS or key in e.nouns):  # "the youngest brother"
                return e
            if key in e.nouns or lx.KIND.get(key, key) in e.kinds and not compound:  # "the snake" after "Onini the python"
                known = e.owners.get(key)
                if owner is not None and known and owner not in known:
                    continue  # his mother is not her mother
                if not mods or mods & e.mods:
                    return e
                same_noun.append(e)  # "the sea goddess": rather the one called "the goddess of the sea", if any
        if same_noun:
            return same_noun[0]
        if owner is not None and key in lx.KIN:
            e = self._kin(doc, m, entities, entities[owner])
            if e is not None:
                return e
        if owner is not None and key in lx.SIBLINGS:  # "his brother" of one of "Hansel and Gretel"
            sib = [entities[i] for i in sorted(entities[owner].siblings) if entities[i].mentions
                   and entities[i].gender in (None, m.gender)]  # fmt: skip
            if len(sib) == 1:
                return sib[0]
        if key in lx.PARENTS and m.number == "sg":  # "the mother wept", "their father": a wife, or a parent
            married = self._married(entities) | {i for e in entities for noun in lx.CHILDREN
                                                 for i in e.owners.get(noun, set())}
            married |= {x.id for e in entities for noun, name in e.of_names if noun in lx.CHILDREN
                        for x in entities if name in x.names}  # fmt: skip
            e = self._salient(doc, m, entities, lambda e: e.id in married and e.gender == m.gender and e is not speaker
                              and e.id != owner and "step" + key not in e.nouns)  # her mother is not her stepmother
            if e is not None:
                return e
        if m.number != "sg":
            return None
        if m.lemma in lx.GENERIC_CREATURE:  # a monster before a mere animal
            return self._salient(doc, m, entities, lambda e: (e.creature or bool(e.nouns & lx.MONSTROUS))
                                 and e is not speaker,
                                 bonus=lambda e: 3.0 if e.nouns & lx.MONSTROUS else 0.0)
        if self._epithet(doc, m):
            young = self._age(toks[m.head])
            like = _traits(toks[m.head])  # "the furious usurper" is rather the one called cruel
            adults = self._married(entities) if m.lemma in lx.INFANTS else set()  # "the sleeping child" has no wife
            return self._salient(doc, m, entities, bonus=lambda e: (4.0 if young and e.age == young else 0.0) + (
                                 3.0 if like & e.traits else 0.0),
                                 fits=lambda e: (
                e is not speaker and unlike not in e.traits and e.id not in adults
                and (not e.creature or bool(e.names) and m.lemma not in lx.HUMAN_EPITHETS)
                and e.gender in (None, m.gender or e.gender) and (e.age is None or young in (None, e.age))
                and (m.lemma not in lx.GENERIC_PERSON or m.head - e.last_tok() < self.generic_window
                     or (young is not None and e.age == young))))  # fmt: skip
        return None

    @staticmethod
    def _kin_key(lemma: str, owned: bool) -> str:
        """The noun kin is matched by: "bride" is "wife", "papa" "father"; someone's queen is his wife."""
        key = lx.KIN_SAME.get(lemma, lemma)
        if owned and key in ("queen", "king"):
            return "wife" if key == "queen" else "husband"
        return key

    def _epithet(self, doc: Any, m: _Mention) -> bool:
        """A definite description that names someone by what they are like rather than by their role: "the youth",
        "the hero", "the young man", "the grieving musician" (not "the king", "his mother", "the hunter")."""
        toks = _tokens(doc)
        tok = toks[m.head]
        if not any(c.dep_ == "det" and c.lower_ in ("the", "this", "that") for c in tok.lefts) and not (
                m.in_quote and self._vocative(doc, m)):
            return False
        if m.lemma in lx.EPITHETS:
            return True
        return (m.lemma in lx.PERSON_NOUNS and m.lemma not in lx.KIN and m.lemma not in lx.TITLES
                and any(c.dep_ == "amod" and c.pos_ in ("ADJ", "VERB") for c in tok.lefts))  # fmt: skip

    @staticmethod
    def _age(tok: Any) -> str | None:
        """young or old, as a description says ("the young man", "a baby boy", "the old woman")."""
        words = {tok.lemma_.lower()} | {c.lower_ for c in tok.lefts if c.dep_ in ("amod", "compound")}
        if words & lx.YOUNG:
            return "young"
        if words & lx.OLD:
            return "old"
        return None

    def _kin(self, doc: Any, m: _Mention, entities: list[_Entity], owner: _Entity) -> _Entity | None:
        """ "her father" when she is someone's daughter; "his mother" when he is a couple's son and one of them
        is a wife; "her husband" when she is someone's wife."""
        key = self._kin_key(m.lemma, True)
        inverse = lx.KIN[key]
        ids = {i for noun in inverse for i in owner.owners.get(noun, set())}
        ids |= {e.id for noun, name in owner.of_names if noun in inverse for e in entities if name in e.names}
        found = [entities[i] for i in sorted(ids) if entities[i].mentions]
        for e in found:
            if e.number == "sg" and (m.gender is None or e.gender in (None, m.gender)):
                return e
        if any(e.number == "pl" for e in found) and key in lx.PARENTS:  # "their son": one of a couple
            married = self._married(entities)
            return self._salient(doc, m, entities, lambda e: e.id in married and e.gender == m.gender)
        return None

    @staticmethod
    def _married(entities: list[_Entity]) -> set[int]:
        """Who is someone's husband or wife, or has one."""
        married = {i for e in entities for noun in lx.SPOUSES for i in e.owners.get(noun, set())}
        return married | {e.id for e in entities if any(e.owners.get(noun) for noun in lx.SPOUSES)}

    @staticmethod
    def _conjoined_owner(doc: Any, m: _Mention, by_token: dict[int, _Mention],
                         entities: list[_Entity]) -> _Entity | None:  # fmt: skip
        """ "an old man and his wife", "the king and his daughters": his is the one just named."""
        toks = _tokens(doc)
        tok = toks[m.head]
        owned = tok.head
        if tok.dep_ != "poss" or owned.dep_ != "conj" or m.person != 3 or m.number != "sg":
            return None
        first = by_token.get(owned.head.i)
        e = entities[first.entity] if first is not None and first.entity is not None else None
        if e is None or e.number != "sg" or (m.gender in ("m", "f") and e.gender not in (None, m.gender)):
            return None
        return e

    def _called_in_quote(self, doc: Any, m: _Mention, start: int, end: int) -> set[int]:
        """Whom the quotation that ``m`` says (as the subject of "asked", "said" in its sentence) calls by name:
        '"Mother, why ...?" she asked': the speaker is not the mother. ``start``-``end``: the tokens of ``m``'s
        sentence and the one before (the quotation may end a sentence before)."""
        toks = _tokens(doc)
        tok = toks[m.head]
        if m.in_quote or tok.dep_ != "nsubj" or tok.head.lemma_ not in lx.SPEECH_LEMMAS:
            return set()
        blocks = {self._quote[i] for i in range(start, end) if self._quote[i]}
        return {x.entity for b in blocks for x in self._by_block.get(b, ()) if x.entity is not None
                and x.type in ("name", "description") and self._vocative(doc, x)}  # fmt: skip

    def _match_pronoun(self, doc: Any, m: _Mention, entities: list[_Entity],
                       speaker: _Entity | None = None) -> _Entity | None:  # fmt: skip
        toks = _tokens(doc)
        sent = toks[m.head].sent
        before = toks[sent.start - 1].sent.start if sent.start > 0 else 0
        called = self._called_in_quote(doc, m, before, sent.end)

        def fits(e: _Entity) -> bool:
            if e is speaker or e.id in called:
                return False  # in a script line, "him" is never the one speaking; nor '"Mother, ...," she asked' Mother
            if m.gender == "n":  # "it" is a character only for a creature the story has made one, or that just acted
                return e.creature and (bool(e.names) or sum(x.type == "description" for x in e.mentions) >= 2
                                       or any(before <= x.head for x in e.mentions))  # fmt: skip
            if m.gender in ("m", "f"):  # an unnamed animal is "it", unless it acts in this very sentence ("A
                # kookaburra told her funniest stories"; not "the bird called him")
                return e.gender in (None, m.gender) and not (e.creature and e.gender is None and not e.names and not (
                    toks[m.head].dep_ in ("poss", "nsubj") and any(x.subject and sent.start <= x.head < m.head
                                                                   for x in e.mentions)))  # fmt: skip
            return True

        return self._salient(doc, m, entities, fits)

    def _salient(self, doc: Any, m: _Mention, entities: list[_Entity], fits: Any, bonus: Any = None) -> _Entity | None:
        """The entity ``m`` most likely refers back to, among those that ``fits``: recent, a subject, named,
        often mentioned; never the subject of the verb ``m`` is the object of ("he saw him")."""
        best, best_score = None, float("-inf")
        toks = _tokens(doc)
        sent_start = toks[m.head].sent.start
        verb = _verb_of(toks[m.head]) if toks[m.head].dep_ in ("dobj", "pobj", "iobj", "dative") else None
        subjects = _subjects(verb) if verb is not None and not m.lemma.endswith(("self", "selves")) else set()
        objects = _object_names(toks[m.head])  # "The hero struck the Sun": not the Sun
        here = toks[m.head]
        new_here = toks[sent_start - 1].sent.start if (  # a sentence's first word, "he": the one just brought in?
            m.type == "pronoun" and here.dep_ == "nsubj" and sent_start > 0 and here.i - sent_start <= 1) else None
        for e in entities:
            if not e.mentions or m.head - e.mentions[-1].head > 400:
                continue  # long out of view
            if e.narrator or e.addressee or e.we or all(x.standalone for x in e.mentions):
                continue  # "I", "you" and "we" are not "he"; nor is what someone was said to be
            prior = e.mentions if not e.mentions or e.mentions[-1].head < m.head else [
                x for x in e.mentions if x.head < m.head]  # mentions are read in order: all are before, mostly
            if not prior or e.number != m.number or m.head - prior[-1].head > 400 or not fits(e):
                continue
            if objects and (objects & e.names or objects & e.nouns):
                continue
            acts = subjects and any(x.head in subjects for x in prior)  # the subject of the verb m is the object of
            if acts and m.type == "description":
                continue  # "the king sent the young man": not the king
            score = float("-inf")
            for x in prior[-6:]:
                dist = m.head - x.head
                sc = -dist / self.w_distance
                subject = x.dep in ("nsubj", "nsubjpass")
                if subject:
                    sc += self.w_subject
                if x.type == "name":
                    sc += self.w_name
                if x.in_quote != m.in_quote and x.person == 3:
                    sc -= self.w_quote  # the speaker of a quote is seldom the subject inside it
                if x.head >= sent_start:
                    sc += self.w_same_sentence
                score = max(score, sc)
            if acts:
                score -= 8.0  # "he saw him", "the warrior carried the babe ... and left him": not the same person
            score += min(len(prior), self.frequency_cap) * self.w_frequency
            if all(x.type == "pronoun" for x in prior):
                score -= self.w_unnamed
            if m.gender in ("m", "f") and e.gender is None and e.creature:
                score -= 3.0  # a creature is "it" until the story says otherwise
            elif m.type == "pronoun" and m.gender in ("m", "f") and e.gender is None and not e.names:
                score -= self.w_unknown_sex  # "her" is rather the woman than "a hunter" of unknown sex
            if new_here is not None and prior[0].head >= new_here and any(x.type == "name" for x in prior) and not (
                    e.creature and e.gender is None):
                score += self.w_introduced  # "... made a wild man called Enkidu. He lived among the gazelles"
            if bonus is not None:
                score += bonus(e)
            if score > best_score:
                best, best_score = e, score
        return best

    @staticmethod
    def _vocative(doc: Any, m: _Mention) -> bool:
        """A name set off by commas or quotation marks at the edge of a clause, not an argument of a verb."""
        toks = _tokens(doc)
        tok = toks[m.head]
        if tok.dep_ in ("nsubj", "nsubjpass", "dobj", "pobj", "iobj", "poss", "attr", "appos"):
            return False
        before = toks[m.start_tok - 1] if m.start_tok > 0 else None
        after = toks[m.end_tok] if m.end_tok < len(doc) else None
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
        toks = _tokens(doc)
        sent = toks[head].sent
        lo, hi = max(0, sent.start - 40), min(len(doc), sent.end + 40)
        by_head = {x.head: x for x in mentions if x.entity is not None}
        best, best_dist = None, 10**9
        for tok in toks[lo:hi]:
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
        toks = _tokens(doc)
        head = toks[m.head]
        out = [t.lemma_.lower() for t in toks[m.start_tok : m.head] if t.pos_ == "NOUN"]
        out += [t.lower_ for t in toks[m.start_tok : m.head] if t.lower_ in lx.TITLES and lx.TITLES[t.lower_]]
        for child in head.rights:
            if child.dep_ == "appos" and child.pos_ == "NOUN":
                out.append(child.lemma_.lower())
        if head.dep_ in ("nsubj",) and head.head.lemma_ == "be":
            for child in head.head.rights:
                if child.dep_ == "attr" and child.pos_ == "NOUN":
                    out.append(child.lemma_.lower())
        return [w for w in out if w in lx.PERSON_NOUNS or w in lx.CREATURE_NOUNS or w in lx.TITLES]

    # 3. characters -------------------------------------------------------------------------------------
    def _characters(self, doc: Any, entities: list[_Entity],
                    extra: dict[int, list[Mention]] | None = None) -> list[Character]:  # fmt: skip
        chars: dict[int, Character] = {}
        used_ids: set[str] = set()
        kept = [e for e in entities if not self._passing_animal(e) and not self._exclamation(doc, e)]
        for e in sorted(kept, key=self._minor):  # the characters' ids first: they are the ones people read
            mentions = sorted(self._mentions_of(doc, e) + (extra or {}).get(e.id, []), key=lambda m: m.start)
            name = self._name(doc, e)
            chars[e.id] = (
                Character(
                    id=self._id(doc, e, name, used_ids),
                    name=name,
                    mentions=mentions,
                    prompt=", ".join(self._prompt_words(doc, e)),
                    gender=e.gender or ("n" if e.creature else None),
                    number=e.number,
                    minor=self._minor(e),
                )
            )
        return [chars[e.id] for e in kept]

    @staticmethod
    def _exclamation(doc: Any, e: _Entity) -> bool:
        """A word shouted, not someone: a name met once, as a whole quotation ("“Café!” said Zoë")."""
        if len(e.mentions) != 1 or e.mentions[0].type != "name" or not e.mentions[0].in_quote:
            return False
        m, toks = e.mentions[0], _tokens(doc)
        before = toks[m.start_tok - 1].text if m.start_tok > 0 else ""
        after = [t.text for t in toks[m.end_tok : m.end_tok + 2]]
        return (before in _QUOTES_OPEN and len(after) == 2 and after[0] in {"!", "?", "."}
                and after[1] in _QUOTES_CLOSE)  # fmt: skip

    @staticmethod
    def _minor(e: _Entity) -> bool:
        """Not a character to draw: known by pronouns only (a speaker's "I" aside), or only said to be something."""
        if e.label or (e.narrator and len(e.mentions) > 1):
            return False
        return all(m.type == "pronoun" for m in e.mentions) or all(x.standalone for x in e.mentions)

    def _visual_mentions(self, doc: Any, lines: Sequence[Line], entities: list[_Entity]) -> dict[int, list[Mention]]:
        """The people and creatures a script line's what-to-draw describes, each given to a character of that line
        it fits (by name, by role noun, by sex or kind when only one fits), or to nobody: never a new character."""
        toks = _tokens(doc)
        drawn = [line for line in lines if line.visual]
        if not drawn:
            return {}
        from ..nlp import load_nlp

        out: dict[int, list[Mention]] = {}
        by_name = {n: e for e in entities for n in e.names}
        for line, vdoc in zip(drawn, load_nlp().pipe(line.visual for line in drawn), strict=True):
            here = [e for e in entities if any(line.start <= toks[m.head].idx < line.end and not m.standalone
                                               for m in e.mentions)]  # fmt: skip
            if line.speaker:
                parts = {w.lower() for w in re.findall(r"[^\W\d_]+", line.speaker)}
                here += [e for e in entities if e.label and e.names == parts and e not in here]
            for chunk in vdoc.noun_chunks:
                root = chunk.root
                e = by_name.get(root.lower_) if root.pos_ == "PROPN" else None
                if e is None:
                    person, gender = self._person_noun(root)
                    if not person or root.tag_ in ("NNS", "NNPS"):
                        continue
                    noun = root.lemma_.lower()
                    called = [x for x in here if noun in x.nouns and x.number == "sg" and not self._minor(x)] or [
                        x for x in entities if noun in x.nouns and x.number == "sg" and not self._minor(x)
                        and (x.names or x.label or len(x.mentions) > 1)]  # not "a woman like you", said once
                    e = called[0] if len(called) == 1 else self._fits(noun, gender, here)
                if e is not None:
                    start = line.visual_start + chunk.start_char
                    words = line.visual[chunk.start_char : chunk.end_char]
                    out.setdefault(e.id, []).append(Mention(start, start + len(words), words, "description"))
        return out

    @staticmethod
    def _fits(noun: str, gender: str | None, here: list[_Entity]) -> _Entity | None:
        """The one character of a line that a drawn "a musician", "a faint woman", "a beast" can be."""
        for test in (lambda e: noun in e.nouns,
                     lambda e: noun in lx.CREATURE_NOUNS and e.creature,
                     lambda e: gender is not None and e.gender == gender and not e.creature):  # fmt: skip
            fit = [e for e in here if e.number == "sg" and test(e)]
            if len(fit) == 1:
                return fit[0]
            if fit:
                return None
        return None

    @staticmethod
    def _id(doc: Any, e: _Entity, name: str, used: set[str]) -> str:
        """The shortest good id: the name's words ("sun-wukong"), or a description's noun alone when no other
        character has it ("the spotted dog": "dog"), else its words ("red-demon")."""
        if any(m.type == "name" for m in e.mentions) or e.narrator or e.label:
            return _slug(name, used)
        words = re.sub(r"^(the|his|her|its|their|my|our|your) ", "", name)
        head = words.split()[-1] if words.split() else words
        return _slug(head if _slug(head, set(used)) == re.sub(r"[\W_]+", "-", head.lower()).strip("-") else words, used)

    def _passing(self, doc: Any, m: _Mention) -> bool:
        # a name or description that only owns something ("the king's daughter") may not be in the picture
        toks = _tokens(doc)
        return m.type != "pronoun" and toks[m.head].dep_ == "poss"

    def _name(self, doc: Any, e: _Entity) -> str:
        toks = _tokens(doc)
        if e.narrator:
            return "the narrator"
        names = [m for m in e.mentions if m.type == "name"]
        if e.label and not names:
            return e.label
        if names:
            # the most complete form of the name, without titles
            best = max(names, key=lambda m: (len(m.name_parts), -m.start_tok))
            propn = [t for t in toks[best.start_tok : best.end_tok] if t.pos_ == "PROPN" and t.lower_ not in lx.TITLES
                     or t.lower_ == "the" and t.i > best.start_tok and t.i + 1 < best.end_tok  # "Llywelyn the Great"
                     and toks[t.i - 1].pos_ == "PROPN" and toks[t.i + 1].text[:1].isupper()]
            if propn:
                return " ".join(t.text for t in propn)
            return toks[best.head].text
        descs = [m for m in e.mentions if m.type == "description"]
        if not descs:
            return toks[e.mentions[0].head].text
        # the shortest good name: the noun and its adjectives, from the first description that is not someone's
        # ("a red demon with iron horns" -> "the red demon"; "his wife" stays "his wife")
        own = [m for m in descs if not any(c.dep_ == "poss" for c in toks[m.head].lefts)]
        best = (own or descs)[0]
        head = toks[best.head]
        first = head.i
        while first > best.start_tok and toks[first - 1].dep_ in ("amod", "compound", "punct", "advmod") and (
                toks[first - 1].head.i >= first - 1 or toks[first - 1].dep_ == "punct") and toks[first - 1].text != ",":
            first -= 1
        words = doc[first : head.i + 1].text if first <= head.i else head.text
        if own:
            return f"the {words}"
        poss = next(c for c in head.lefts if c.dep_ == "poss")
        return f"{poss.text.lower() if poss.pos_ == 'PRON' else poss.text} {words}"

    def _prompt_words(self, doc: Any, e: _Entity) -> list[str]:
        toks = _tokens(doc)
        words: list[str] = []

        def add(phrase: str) -> None:
            phrase = re.sub(r"\s+", " ", phrase).strip(" ,.;:").lower()
            if phrase and phrase not in words:
                words.append(phrase)

        # the role: "prince", "old village healer", "dragon"
        for m in e.mentions:
            head = toks[m.head]
            mods = [
                t for t in toks[m.start_tok : m.head] if t.dep_ in ("amod", "compound") and t.pos_ in ("ADJ", "NOUN")
            ]
            if m.type == "description" and not m.in_quote and m.lemma not in lx.GENERIC_CREATURE:
                add(" ".join([t.text for t in mods] + [head.lemma_ if m.number == "sg" else head.text]))
            elif m.type == "name":
                for t in toks[m.start_tok : m.head]:
                    if t.lower_ in ("old", "young", "little") or (t.pos_ in ("NOUN", "ADJ") and t.dep_ != "det"):
                        add(t.text)
                    elif t.lower_ in lx.TITLES and lx.TITLES[t.lower_]:
                        add(t.text)
                for child in head.rights:
                    if child.dep_ == "appos" and child.pos_ == "NOUN":
                        add(
                            " ".join(
                                t.text for t in toks[_np_start(child) : child.i + 1] if t.dep_ not in ("det", "poss")
                            )
                        )
        # looks: "his grey hair", "wore silver armor", "with a red cloak"
        for m in e.mentions:
            tok = toks[m.head]
            if tok.dep_ == "poss" and tok.head.lemma_.lower() in lx.APPEARANCE_NOUNS:
                noun = tok.head
                if any(c.dep_ in ("amod", "compound") for c in noun.lefts):
                    add(" ".join(t.text for t in toks[_np_start(noun) : noun.i + 1] if t.dep_ not in ("det", "poss")))
            if tok.dep_ in ("nsubj",) and tok.head.lemma_ in lx.WEAR_LEMMAS:
                for obj in tok.head.children:
                    if obj.dep_ == "dobj":
                        add(" ".join(t.text for t in toks[_np_start(obj) : obj.i + 1] if t.dep_ not in ("det", "poss")))
                        for conj in obj.conjuncts:
                            add(
                                " ".join(
                                    t.text for t in toks[_np_start(conj) : conj.i + 1] if t.dep_ not in ("det", "poss")
                                )
                            )
            for prep in tok.rights:
                if prep.dep_ == "prep" and prep.lower_ == "with":
                    for obj in prep.children:
                        if obj.dep_ == "pobj" and obj.lemma_.lower() in lx.APPEARANCE_NOUNS:
                            add(
                                " ".join(
                                    t.text for t in toks[_np_start(obj) : obj.i + 1] if t.dep_ not in ("det", "poss")
                                )
                            )
        return words[:8]


def _label_gender(label: str) -> str | None:
    """The sex a script's speaker label says: "Queen Maeve", "Old Woman", "John"."""
    for w in label.lower().split():
        g = lx.TITLES.get(w) or lx.PERSON_NOUNS.get(w)
        if g:
            return g
    first = label.lower().split()[0] if label.split() else ""
    return "m" if first in lx.FIRST_NAMES_M else "f" if first in lx.FIRST_NAMES_F else None


def _slug(name: str, used: set[str]) -> str:
    from ..stages.characters import new_character_id

    cid = new_character_id(name, used)
    used.add(cid)
    return cid
