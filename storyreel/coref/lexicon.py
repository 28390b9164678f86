"""Words the rules engine knows: person and creature nouns, titles, pronouns, names' genders."""

from __future__ import annotations


def _table(spec: str, value: object) -> dict[str, object]:
    return {w: value for w in spec.split()}


# noun lemma -> gender (m, f, or None when either)
PERSON_NOUNS: dict[str, str | None] = {
    **_table(
        "man boy king prince lord knight father son brother husband uncle nephew grandfather gentleman sir "
        "monk priest wizard sorcerer emperor duke earl baron count squire lad fellow fisherman horseman "
        "nobleman chief chieftain sultan pharaoh god giant emperor bridegroom widower groom shepherd "
        "huntsman woodcutter miller tailor blacksmith smith",
        "m",
    ),
    **_table(
        "woman girl queen princess lady mother daughter sister wife aunt niece grandmother madam "
        "maid maiden nun priestess witch sorceress empress duchess countess baroness lass mermaid goddess "
        "bride widow stepmother stepdaughter stepsister heroine actress hostess mistress nurse fairy "
        "godmother seamstress shepherdess",
        "f",
    ),
    **_table(
        "child baby person stranger friend enemy traveller traveler soldier captain hunter farmer "
        "servant guard merchant doctor teacher student healer elder hero villain thief warrior archer "
        "sailor pilot peasant villager neighbour neighbor cousin parent orphan twin companion leader "
        "ruler stranger rider guest host master owner player detective officer inspector judge lawyer "
        "clerk baker cook pirate ghost spirit angel demon devil troll ogre dwarf elf gnome goblin "
        "orc vampire hag crone warden keeper innkeeper beggar youth boy girl man woman people "
        "prisoner messenger herald advisor adviser counselor minister scholar poet painter singer "
        "musician dancer bard healer sage oracle prophet seer magician mage fool jester knight",
        None,
    ),
}
# the lexicon above overwrote a few gendered words with None through the last table: restore them
for _w in ("boy", "man", "knight"):
    PERSON_NOUNS[_w] = "m"
for _w in ("girl", "woman"):
    PERSON_NOUNS[_w] = "f"

# creatures a story may treat as characters; they may be "it"
CREATURE_NOUNS = set(
    "dragon wolf fox bear lion tiger eagle owl raven crow snake serpent cat dog horse mare stallion "
    "unicorn griffin phoenix frog toad rabbit hare mouse rat bird swan goose duck fish whale shark "
    "spider monkey ape elephant deer stag boar pig goat sheep lamb cow bull ox hound puppy kitten "
    "beast creature monster animal wyrm hydra kraken sphinx minotaur centaur cyclops robot".split()
)
CREATURE_NOUNS |= set(
    "ant bee wasp butterfly moth beetle grasshopper mosquito scorpion crab lobster turtle tortoise "
    "lizard crocodile alligator python cobra viper adder pheasant peacock parrot sparrow nightingale lark "
    "dove pigeon hawk falcon vulture buzzard heron stork pelican ostrich hen rooster chicken "
    "turkey magpie wren woodpecker kingfisher gull albatross penguin squirrel hedgehog badger otter beaver "
    "weasel ferret stoat possum opossum raccoon skunk porcupine bat camel llama donkey mule pony foal "
    "calf kid buffalo bison yak moose elk reindeer antelope gazelle zebra giraffe rhinoceros rhino hippopotamus "
    "hippo leopard panther jaguar cheetah lynx cougar puma hyena jackal coyote dingo cub pup piglet hog sow "
    "ram ewe salmon trout carp eel octopus squid walrus dolphin porpoise jellyfish snail slug "
    "worm caterpillar spider tarantula gorilla chimpanzee baboon orangutan kangaroo koala panda sloth armadillo "
    "anteater tapir boa serpent wyvern basilisk cockatrice chimera manticore harpy siren gorgon griffon gryphon "
    "pegasus hippogriff roc simurgh garuda naga kappa tengu kitsune tanuki kirin qilin djinn jinni genie "
    "leviathan behemoth wendigo thunderbird firebird selkie kelpie banshee yeti sasquatch golem gargoyle "
    "werewolf lamia nymph dryad satyr faun imp sprite pixie brownie leprechaun mermaid merman".split()
)
CREATURE_NOUNS |= {"brute", "fiend", "steed", "whelp", "chick", "croc", "gator", "bunny", "quokka", "pangolin",
                   "mongoose", "kiwi", "petrel", "meerkat", "wombat", "platypus", "emu", "lemur", "iguana", "gecko",
                   "hummingbird", "condor", "coyote", "titan", "kookaburra", "egret", "ibis", "heron", "cormorant", "mynah",
                   "macaw", "cockatoo", "finch", "sparrow", "thrush", "blackbird", "starling", "hornbill", "toucan",
                   "jackdaw", "rook", "lark", "partridge", "quail", "grouse", "swallow", "bat", "shrew", "vole",
                   "hamster", "gerbil", "marten", "mink", "sable", "ermine", "bobcat", "ocelot", "civet", "genet",
                   "aardvark", "warthog", "okapi", "ibex", "chamois", "marmot", "chipmunk", "dormouse", "newt",
                   "salamander", "chameleon", "komodo", "dragonfly", "firefly", "ladybird", "cicada", "locust"}
# persons of the monstrous kind: "the brute", "the monster" may be one of them
MONSTROUS = set("demon devil troll ogre ogress giant giantess gorgon cyclops oni rakshasa asura jinni djinn "
                "genie ghoul chief".split())  # fmt: skip
# generic words that refer back to a creature already in the story
GENERIC_CREATURE = {"beast", "creature", "monster", "animal", "thing", "brute", "fiend"}
# descriptions that name someone by what they are like: "the youth", "the hero" is the one the story follows
EPITHETS = set("man woman boy girl youth hero heroine lad lass maiden child fellow stranger god goddess "
               "person trickster tyrant villain fool coward wretch rascal rogue scoundrel traitor boaster "
               "darling beauty culprit thief".split())  # fmt: skip
# epithets only a human is given: "the man" is never Anansi the spider, "the trickster" may be
HUMAN_EPITHETS = set("man woman boy girl youth lad lass maiden child fellow person stranger".split())
# "the youngest son" is "the youngest brother" of the same family; of two brothers, the elder is the eldest
RANKS = {"youngest": "youngest", "younger": "youngest", "eldest": "eldest", "oldest": "eldest", "elder": "eldest",
         "older": "eldest"}
YOUNG = set("young little baby infant boy girl child youth lad lass maiden kid youngest".split())
OLD = set("old elderly aged ancient grey gray crone hag".split())  # "the elder", "the oldest": a rank (RANKS)
# kinds: "the snake" may be the python, "the great cat" the leopard, "the hag" the witch, "the cub" the pup
KIND = {
    **dict.fromkeys("cat lion tiger leopard panther jaguar cheetah lynx cougar puma kitten".split(), "cat"),
    **dict.fromkeys("snake serpent python cobra viper adder boa naga".split(), "snake"),
    **dict.fromkeys("dog hound wolf jackal coyote dingo".split(), "dog"),
    **dict.fromkeys("ape monkey gorilla chimpanzee baboon orangutan".split(), "ape"),
    **dict.fromkeys("cub pup puppy whelp kit foal calf chick lamb piglet".split(), "young"),
    **dict.fromkeys("witch hag crone sorceress enchantress".split(), "witch"),
    **dict.fromkeys("spirit jinni djinn genie ghost".split(), "spirit"),
    **dict.fromkeys("horse stallion mare pony steed".split(), "horse"),
    **dict.fromkeys("bird eagle hawk falcon raven crow owl".split(), "bird"),
    **dict.fromkeys("crocodile croc alligator gator".split(), "crocodile"),
    **dict.fromkeys("baby babe infant newborn child boy".split(), "baby"),
    **dict.fromkeys("dwarf gnome".split(), "dwarf"),
    **dict.fromkeys("giant giantess ogre ogress troll cyclops".split(), "giant"),  # "an ogre" ... "the giant"
    **dict.fromkeys("messenger envoy herald emissary courier".split(), "messenger"),
    **dict.fromkeys("rabbit hare bunny".split(), "rabbit"),
    **dict.fromkeys("bull ox cow".split(), "cattle"),
    **dict.fromkeys("king khan emperor sultan shah tsar czar pharaoh rajah raja emir ruler monarch sovereign lord "
                    "chieftain".split(), "ruler"),  # "the khan" ... "the lord" ... "the greedy ruler"
}
# kinship, and the kin seen from the other side: her father is the one whose daughter she is
PARENTS = set("father mother parent papa mama dad mum mom".split())
CHILDREN = set("son daughter child".split())
SPOUSES = {"husband", "wife"}
SIBLINGS = {"brother", "sister", "sibling"}
KIN = {**dict.fromkeys(PARENTS, CHILDREN), **dict.fromkeys(CHILDREN, PARENTS), "husband": {"wife"},
       "wife": {"husband"}, **dict.fromkeys(("uncle", "aunt"), {"nephew", "niece"}),
       **dict.fromkeys(("nephew", "niece"), {"uncle", "aunt"})}  # fmt: skip
KIN_SAME = {"bride": "wife", "bridegroom": "husband", "groom": "husband", "papa": "father", "dad": "father",
            "mama": "mother", "mum": "mother", "mom": "mother"}  # fmt: skip
# generic words that refer back to a person already in the story
GENERIC_PERSON = {"man", "woman", "boy", "girl", "child", "person", "stranger", "fellow", "lad", "lass"}

PLURAL_PERSON_NOUNS = set(
    "people men women children boys girls brothers sisters parents villagers soldiers guards knights "
    "friends sailors thieves hunters travellers travelers dwarves elves giants witches kings queens "
    "princes princesses twins folk crowd family couple".split()
)

# titles before a name, and the gender they give
TITLES: dict[str, str | None] = {
    "mr": "m", "mr.": "m", "sir": "m", "lord": "m", "king": "m", "prince": "m", "duke": "m", "count": "m",
    "baron": "m", "emperor": "m", "father": "m", "brother": "m", "uncle": "m", "master": "m", "saint": None,
    "mrs": "f", "mrs.": "f", "miss": "f", "ms": "f", "ms.": "f", "lady": "f", "queen": "f", "princess": "f",
    "duchess": "f", "countess": "f", "empress": "f", "madam": "f", "madame": "f", "mother": "f",
    "sister": "f", "aunt": "f", "dame": "f", "mistress": "f",
    "dr": None, "dr.": None, "professor": None, "captain": None, "general": None, "colonel": None,
    "old": None, "little": None, "young": None, "st": None, "st.": None,
}  # fmt: skip

# pronoun -> (gender, number, person)
PRONOUNS: dict[str, tuple[str | None, str, int]] = {
    **{w: ("m", "sg", 3) for w in ("he", "him", "his", "himself")},
    **{w: ("f", "sg", 3) for w in ("she", "her", "hers", "herself")},
    **{w: ("n", "sg", 3) for w in ("it", "its", "itself")},
    **{w: (None, "pl", 3) for w in ("they", "them", "their", "theirs", "themselves")},
    **{w: (None, "sg", 1) for w in ("i", "me", "my", "mine", "myself")},
    **{w: (None, "pl", 1) for w in ("we", "us", "our", "ours", "ourselves")},
}

SPEECH_VERBS = set(
    "say said says tell told ask asked answer answered reply replied cry cried shout shouted whisper "
    "whispered call called exclaim exclaimed murmur murmured add added continue continued begin began "
    "roar roared scream screamed sigh sighed laugh laughed mutter muttered yell yelled declare declared "
    "insist insisted warn warned explain explained plead pleaded beg begged demand demanded".split()
)
SPEECH_LEMMAS = {"say", "tell", "ask", "answer", "reply", "cry", "shout", "whisper", "call", "exclaim",
                 "murmur", "add", "continue", "roar", "scream", "sigh", "laugh", "mutter", "yell", "declare",
                 "insist", "warn", "explain", "plead", "beg", "demand", "begin", "snarl", "growl", "hiss", "bellow",
                 "sob", "gasp", "chuckle", "boast", "grumble", "squeak", "croak", "howl", "bark", "sneer", "stammer",
                 "wail", "shriek", "cackle", "boom", "thunder", "sing", "chant", "announce", "promise", "agree",
                 "respond", "retort", "protest", "whimper", "purr", "squawk", "hoot", "bleat", "neigh"}  # fmt: skip

WEAR_LEMMAS = {"wear", "don", "carry", "hold", "wield", "dress", "clothe"}

# nouns that describe how someone looks: worth putting into the prompt
APPEARANCE_NOUNS = set(
    "hair beard moustache mustache eyes eye face skin cheeks lips nose ears scar scars freckles "
    "armor armour helmet shield sword spear bow staff wand cloak cape coat robe robes dress gown "
    "hat hood crown tiara veil boots shoes gloves ring necklace amulet jewels mask scarf shirt "
    "trousers apron uniform suit jacket tunic belt feathers fur scales wings tail horns claws "
    "teeth fangs mane glasses spectacles tattoo tattoos braid braids curls locks".split()
)

# a few common first names, for gender when nothing else tells
FIRST_NAMES_M = set(
    "john james william george charles thomas henry robert edward richard david peter paul michael "
    "arthur jack tom harry fred frederick albert alfred hans jacob joseph samuel daniel matthew mark "
    "luke adam noah oliver jim bill bob joe ben sam max leo hugo otto siegfried beowulf odin thor "
    "loki hercules achilles odysseus jason perseus theseus aladdin sinbad pinocchio hansel".split()
)
FIRST_NAMES_F = set(
    "mary anne anna elizabeth jane emma margaret sarah alice catherine kate helen ellen grace lucy "
    "rose ruth clara laura julia sophia sophie olivia emily charlotte amelia isabella ella eva "
    "maria marie gretel snow cinderella rapunzel belle ariel mira brunhild kriemhild freya "
    "athena hera medusa persephone dorothy wendy heidi matilda judith esther martha".split()
)

# More nouns that name people, as stories use them (roles, trades, kin, ranks, groups)
PERSON_NOUNS.update(
    {
        w: None
        for w in (
            "doctor physician surgeon nurse patient salesman saleswoman merchant trader shopkeeper clerk "
            "secretary manager employer employee partner colleague boss owner landlord landlady tenant lodger "
            "officer sergeant lieutenant colonel general admiral commodore commander major private corporal "
            "sentry soldier sailor seaman mate crew passenger traveller stranger newcomer visitor guest caller "
            "host hostess companion comrade friend acquaintance neighbour neighbor rival enemy foe ally "
            "teacher tutor governess pupil scholar student professor schoolmaster schoolmistress master "
            "mistress servant footman butler valet coachman groom maid housekeeper cook gardener porter "
            "waiter waitress attendant steward stewardess page usher courtier noble nobleman noblewoman "
            "aristocrat peasant labourer laborer worker workman farmer ploughman shepherd hunter fisherman "
            "miner sailor pirate smuggler thief robber murderer criminal prisoner convict captive slave "
            "lawyer attorney judge magistrate juror witness detective inspector constable policeman "
            "priest parson vicar minister bishop monk nun pastor preacher clergyman curate "
            "artist painter poet writer author novelist journalist editor reporter critic reader "
            "actor actress singer dancer musician player performer fiddler piper drummer "
            "child baby infant boy girl youth lad lass kid orphan urchin twin son daughter heir heiress "
            "parent mother father mamma mama papa ma pa grandmother grandfather grandparent grandson "
            "granddaughter brother sister uncle aunt nephew niece cousin husband wife widow widower bride "
            "bridegroom fiance fiancee lover sweetheart darling dear beloved suitor admirer spouse "
            "fool idiot coward hero heroine villain rogue rascal scoundrel wretch devil angel saint "
            "creature fellow chap gentleman lady gent dame madam sir lord king queen prince princess "
            "emperor empress duke duchess earl count countess baron baroness knight squire chief leader "
            "captain ruler governor president mayor senator member citizen resident inhabitant native "
            "foreigner alien immigrant exile refugee pilgrim wanderer beggar tramp vagabond outlaw "
            "invalid sufferer victim survivor observer spectator onlooker bystander listener speaker "
            "narrator writer maker inventor founder creator owner buyer seller customer client "
            "individual person people human mankind woman man gentlewoman spinster bachelor maiden "
            "girlfriend boyfriend husband-to-be ancestor descendant relative relation kinsman kinswoman "
            "god goddess ghost spirit fairy witch wizard giant dwarf elf "
            "family household crowd company party group audience congregation "
            "staff crew gang band mob assembly couple pair"
        ).split()
    }
    | {w: PERSON_NOUNS.get(w) for w in PERSON_NOUNS}
)
for _w in "son brother father uncle nephew husband widower bridegroom king prince duke earl baron emperor " \
          "lord gentleman man boy lad monk priest sir fellow chap papa pa grandfather grandson kinsman " \
          "nobleman policeman clergyman workman footman butler valet".split():  # fmt: skip
    PERSON_NOUNS[_w] = "m"
for _w in "daughter sister mother aunt niece wife widow bride queen princess duchess countess baroness " \
          "empress lady woman girl lass madam dame nun mamma mama ma grandmother granddaughter heiress " \
          "actress hostess governess waitress stewardess spinster maiden kinswoman gentlewoman " \
          "noblewoman landlady mistress witch goddess".split():  # fmt: skip
    PERSON_NOUNS[_w] = "f"

# collective nouns: they name people but are singular in form
COLLECTIVE = set("family household crowd company party group audience congregation staff "
                 "crew gang band mob assembly couple pair people".split())  # fmt: skip

# noun endings that usually name a person ("salesman", "Englishwoman", "novelist", "librarian")
PERSON_SUFFIXES = ("man", "men", "woman", "women", "ist", "ists", "ian", "ians", "ess", "esses", "eer", "eers")
NOT_PERSON_SUFFIXED = set(
    "german human woman women man men gentleman gentlemen omen amen stamen specimen abdomen semen ramen "
    "regimen acumen cyclist list lists mist mists twist wrist fist fists exist assist persist insist "
    "consist resist christian ocean oceans median guardian civilian librarian musician physician "
    "address dress press stress mess less bless guess chess princess business witness mattress access "
    "success process progress excess fortress wilderness darkness illness goodness kindness happiness "
    "sadness weakness madness loneliness tenderness brightness distress carelessness highness career "
    "careers engineer pioneer volunteer veneer".split()
)  # these are either already known people (in PERSON_NOUNS) or not people

# kin words and forms of address used without a determiner ("Mother said", "Yes, sir")
BARE_PERSON = set("mother father mamma mama papa ma pa uncle aunt grandmother grandfather sister brother "
                  "sir madam madame ma'am lady lord god doctor nurse captain master mistress cousin "
                  "granny grandma grandpa dad daddy mum mummy mom".split())  # fmt: skip

SECOND_PERSON = {"you", "your", "yours", "yourself", "yourselves", "thee", "thou", "thy", "thine", "thyself", "ye"}

# verbs whose subject is a person: a capitalised subject of these is a name, whatever the tagger says
HUMAN_VERBS = SPEECH_LEMMAS | set(
    "smile laugh think know feel want love hate remember believe hope wish decide nod sigh marry kiss "
    "frown weep blush grin shrug wonder suppose realise realize understand agree refuse promise "
    "exclaim whisper murmur mutter shout cry answer reply ask tell say write read sing dance pray".split()
)
FIRST_NAMES_M |= set("anthony walter ralph hugh percy george harold frank ernest".split())
FIRST_NAMES_F |= set("florence becky amelia ellen may edith margaret katharine catherine emma jane".split())

# indefinite people: each its own mention, never an antecedent
INDEFINITE_PERSONS = {"someone", "somebody", "anyone", "anybody", "everyone", "everybody", "nobody"}

PERSON_NOUNS.update({w: None for w in "soul being guide trickster rebel hermit rescuer wanderer babe newborn infant "
                     "tyrant cowherd goatherd swineherd boaster champion bard hunter villain coward wretch rascal rogue "
                     "scoundrel traitor culprit".split()
                     if w not in PERSON_NOUNS})

# more titles, from other languages and ranks
TITLES.update(
    {
        **dict.fromkeys("monsieur herr señor senor signor don comte marquis citoyen mynheer".split(), "m"),
        **dict.fromkeys(
            "mademoiselle mlle mlle. mme mme. frau fräulein señora senora signora doña citoyenne".split(), "f"
        ),
        **dict.fromkeys(
            "sergeant lieutenant corporal major admiral judge senator governor president "
            "reverend rev rev. inspector detective officer nurse".split(),
            None,
        ),  # fmt: skip
    }
)

# words that open a sentence and may be capitalised before a name without being part of it
SENTENCE_OPENERS = set("first then once soon later finally next now one suddenly meanwhile there so but and after "
                       "before long every each today tomorrow yesterday again still also only even at last that "
                       "when while thus hence here instead together alone".split())  # fmt: skip

# nature that a tale may make a character: a character when it acts as only someone does ("the Moon wept")
NATURE = set("sun moon wind river sea sky star earth mountain thunder lightning rain cloud fire ocean lake tree "
             "forest volcano dawn night winter summer spring autumn frost snow storm".split())  # fmt: skip
# verbs only someone does: their subject is someone, whatever the noun ("a quokka wept", "the Sun laughed")
ANIMATE_VERBS = set("smile laugh weep sob sigh nod grin shrug frown blush wonder decide agree refuse promise "
                    "boast beg plead pray kiss marry love hate fear hope wish whisper murmur mutter shout snarl "
                    "growl grumble scold answer reply ask exclaim think believe remember forget laugh cry sing "
                    "dance fall_in_love rejoice mourn grieve complain argue quarrel vow swear".split())  # fmt: skip
# nouns that are never someone, whatever they do in a sentence ("his face smiled", "a thing laughed")
NOT_SOMEONE = APPEARANCE_NOUNS | set("thing voice face heart eye eyes mind soul legend story letter note".split())
# verbs whose "to X" is someone spoken or given to, not a place
TO_SOMEONE = SPEECH_LEMMAS | set("give lend send show bring offer sell hand throw return pray bow kneel listen "
                                 "speak talk reply turn run go come".split()) - {"turn", "run", "go", "come"}

# rulers, trades and animals of the tales people tell (Mongolian khans, Russian tsars, Gilgamesh's trapper)
PERSON_NOUNS.update({w: "m" for w in "khan shah rajah raja emir tsar czar kaiser".split() if w not in PERSON_NOUNS})
PERSON_NOUNS.update({w: None for w in "usurper miser guardian envoy official trapper herder twin newcomer eldest "
                     "youngest elder younger".split() if w not in PERSON_NOUNS})  # "the eldest took the mill": the eldest son
CREATURE_NOUNS |= {"mole", "colt", "filly", "crane", "heron", "stork", "cuckoo", "wren", "magpie", "nightingale"}
# where someone lives or rules: "the castle of an ogre" speaks of the ogre (not so "the horns of a bull")
DWELLINGS = set("castle palace house hut home cave den lair court kingdom realm land hall tower garden farm nest "
                "tent yurt temple".split())  # fmt: skip

# what a tale says someone is like: "the kind man" is not the one it called greedy, "the miser" is not the kind one
GOOD = set("kind good gentle generous honest brave noble humble patient loyal faithful merciful "
           "virtuous".split())  # fmt: skip
BAD = set("greedy cruel wicked evil mean selfish jealous envious treacherous stingy miserly spiteful heartless "
          "furious".split())  # fmt: skip
BAD_NOUNS = set("miser villain tyrant traitor scoundrel rogue wretch usurper".split())
EPITHETS |= {"miser", "usurper", "newcomer", "visitor", "intruder", "guardian"}
FEMALE_ANIMALS = set("lioness tigress vixen mare hen doe ewe sow cow filly jenny nanny".split())
INFANTS = set("child baby babe infant newborn toddler".split())
SMALL = {"tiny", "little", "small", "wee"}  # a tiny man is a dwarf; a tiny woman, in tales, a dwarf too
SIBLING_GROUPS = set("children child boy girl son daughter twin brother sister sibling kid".split())  # lemmas
