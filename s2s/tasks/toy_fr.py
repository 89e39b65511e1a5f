"""toy-fr: English -> French by rule, for a small grammar of transitive sentences.

    "the black cat does not see the small dog" -> "le chat noir ne voit pas le petit chien"

    sentence     = subject verb object ("and" object)?    (no "and" in negated sentences)
                 | subject ("do" | "does") "not" verb object
    subject      = pronoun | noun phrase of an animate noun
    noun phrase  = determiner pre-noun-adjective? post-noun-adjective? noun

In French the post-noun adjectives move behind the noun, which is what makes the attention maps of
this task interesting. Every French word form is stored, none derived; all nouns and verbs start with
a consonant, so there is no elision (l', j', n'). Training draws from the "train" split and validation
from "heldout": the point is sentences the model never saw.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Collection
from dataclasses import dataclass

from .task import Pair, Task


@dataclass(frozen=True)
class Noun:
    en: str
    en_plural: str
    fr: str
    fr_plural: str
    feminine: bool
    animate: bool  # only animate nouns are drawn as subjects


@dataclass(frozen=True)
class Adjective:
    en: str
    fr: tuple[str, str, str, str]  # masculine, feminine, masculine plural, feminine plural

    def fr_form(self, feminine: bool, plural: bool) -> str:
        return self.fr[2 * plural + feminine]


@dataclass(frozen=True)
class Verb:
    en: str
    en_3sg: str
    fr: tuple[str, str, str, str, str]  # je, tu, il/elle, nous, ils


NOUNS = (  # English, English plural, French, French plural, feminine, animate
    Noun("cat", "cats", "chat", "chats", False, True),
    Noun("dog", "dogs", "chien", "chiens", False, True),
    Noun("horse", "horses", "cheval", "chevaux", False, True),
    Noun("rabbit", "rabbits", "lapin", "lapins", False, True),
    Noun("cake", "cakes", "gâteau", "gâteaux", False, False),
    Noun("cow", "cows", "vache", "vaches", True, True),
    Noun("mouse", "mice", "souris", "souris", True, True),
    Noun("car", "cars", "voiture", "voitures", True, False),
    Noun("house", "houses", "maison", "maisons", True, False),
    Noun("apple", "apples", "pomme", "pommes", True, False),
)
ANIMATE_NOUNS = tuple(noun for noun in NOUNS if noun.animate)
PRE_NOUN_ADJECTIVES = (  # petit chat
    Adjective("small", ("petit", "petite", "petits", "petites")),
    Adjective("big", ("grand", "grande", "grands", "grandes")),
    Adjective("good", ("bon", "bonne", "bons", "bonnes")),
    Adjective("beautiful", ("beau", "belle", "beaux", "belles")),
)
POST_NOUN_ADJECTIVES = (  # chat noir
    Adjective("black", ("noir", "noire", "noirs", "noires")),
    Adjective("white", ("blanc", "blanche", "blancs", "blanches")),
    Adjective("red", ("rouge", "rouge", "rouges", "rouges")),
    Adjective("green", ("vert", "verte", "verts", "vertes")),
)
VERBS = (
    Verb("see", "sees", ("vois", "vois", "voit", "voyons", "voient")),
    Verb("want", "wants", ("veux", "veux", "veut", "voulons", "veulent")),
    Verb("find", "finds", ("trouve", "trouves", "trouve", "trouvons", "trouvent")),
    Verb("eat", "eats", ("mange", "manges", "mange", "mangeons", "mangent")),
    Verb("carry", "carries", ("porte", "portes", "porte", "portons", "portent")),
    Verb("take", "takes", ("prends", "prends", "prend", "prenons", "prennent")),
)
SINGULAR_DETERMINERS = {  # English -> French masculine, feminine
    "the": ("le", "la"), "a": ("un", "une"), "my": ("mon", "ma"), "your": ("ton", "ta"),
    "this": ("ce", "cette"), "one": ("un", "une"),
}
PLURAL_DETERMINERS = {
    "the": "les", "some": "des", "my": "mes", "your": "tes", "these": "ces",
    "two": "deux", "three": "trois", "four": "quatre", "five": "cinq", "six": "six",
    "seven": "sept", "eight": "huit", "nine": "neuf", "ten": "dix",
}
INDEFINITE_DETERMINERS = ("a", "some")
PRONOUNS = {  # English -> French, person (the index into Verb.fr)
    "i": ("je", 0), "you": ("tu", 1), "he": ("il", 2), "she": ("elle", 2),
    "we": ("nous", 3), "they": ("ils", 4),
}
THIRD_SINGULAR, THIRD_PLURAL = 2, 4
MIN_WORDS = 5  # and at most 14: 4-word subject + verb + 4-word object + "and" + 4-word object


@dataclass(frozen=True)
class NounPhrase:
    determiner: str  # the English one
    noun: Noun
    plural: bool
    pre: Adjective | None = None  # an adjective that precedes the noun in French
    post: Adjective | None = None  # one that follows it


@dataclass(frozen=True)
class Sentence:
    subject: str | NounPhrase  # an English pronoun or a noun phrase
    verb: Verb
    negated: bool
    objects: tuple[NounPhrase, ...]  # joined by and / et


def _person(subject: str | NounPhrase) -> int:
    if isinstance(subject, str):
        return PRONOUNS[subject][1]
    return THIRD_PLURAL if subject.plural else THIRD_SINGULAR


def _coordinate(phrases: list[list[str]], conjunction: str) -> list[str]:
    words = phrases[0]
    for phrase in phrases[1:]:
        words = [*words, conjunction, *phrase]
    return words


def _english_noun_phrase(phrase: NounPhrase) -> list[str]:
    adjectives = [adjective.en for adjective in (phrase.pre, phrase.post) if adjective]
    return [phrase.determiner, *adjectives, phrase.noun.en_plural if phrase.plural else phrase.noun.en]


def _french_determiner(phrase: NounPhrase, negated: bool) -> str:
    """un/une/des become de after a negation (pas de chat) and des before an adjective (de petits chats)."""
    if phrase.determiner in INDEFINITE_DETERMINERS and (negated or (phrase.plural and phrase.pre)):
        return "de"
    if phrase.plural:
        return PLURAL_DETERMINERS[phrase.determiner]
    return SINGULAR_DETERMINERS[phrase.determiner][phrase.noun.feminine]


def _french_noun_phrase(phrase: NounPhrase, negated: bool) -> list[str]:
    feminine, plural = phrase.noun.feminine, phrase.plural
    words = [_french_determiner(phrase, negated)]
    if phrase.pre:
        words.append(phrase.pre.fr_form(feminine, plural))
    words.append(phrase.noun.fr_plural if plural else phrase.noun.fr)
    if phrase.post:
        words.append(phrase.post.fr_form(feminine, plural))
    return words


def _english(sentence: Sentence) -> str:
    third_singular = _person(sentence.subject) == THIRD_SINGULAR
    if isinstance(sentence.subject, str):
        subject = [sentence.subject]
    else:
        subject = _english_noun_phrase(sentence.subject)
    if sentence.negated:
        verb = ["does" if third_singular else "do", "not", sentence.verb.en]
    else:
        verb = [sentence.verb.en_3sg if third_singular else sentence.verb.en]
    objects = _coordinate([_english_noun_phrase(phrase) for phrase in sentence.objects], "and")
    return " ".join([*subject, *verb, *objects])


def _french(sentence: Sentence) -> str:
    if isinstance(sentence.subject, str):
        subject = [PRONOUNS[sentence.subject][0]]
    else:
        subject = _french_noun_phrase(sentence.subject, negated=False)
    verb = sentence.verb.fr[_person(sentence.subject)]
    verb_words = ["ne", verb, "pas"] if sentence.negated else [verb]
    objects = _coordinate([_french_noun_phrase(o, sentence.negated) for o in sentence.objects], "et")
    return " ".join([*subject, *verb_words, *objects])


def _random_noun_phrase(rng: random.Random, nouns: tuple[Noun, ...]) -> NounPhrase:
    plural = rng.random() < 0.4
    return NounPhrase(
        determiner=rng.choice(list(PLURAL_DETERMINERS if plural else SINGULAR_DETERMINERS)),
        noun=rng.choice(nouns),
        plural=plural,
        pre=rng.choice(PRE_NOUN_ADJECTIVES) if rng.random() < 0.4 else None,
        post=rng.choice(POST_NOUN_ADJECTIVES) if rng.random() < 0.5 else None,
    )


def _random_sentence(rng: random.Random) -> Sentence:
    if rng.random() < 0.3:
        subject: str | NounPhrase = rng.choice(list(PRONOUNS))
    else:
        subject = _random_noun_phrase(rng, ANIMATE_NOUNS)
    verb = rng.choice(VERBS)
    negated = rng.random() < 0.3
    n_objects = 2 if not negated and rng.random() < 0.25 else 1
    return Sentence(subject, verb, negated, tuple(_random_noun_phrase(rng, NOUNS) for _ in range(n_objects)))


def _draw_toy_fr(rng: random.Random) -> Pair:
    while True:
        sentence = _random_sentence(rng)
        english = _english(sentence)
        if len(english.split()) >= MIN_WORDS:
            return english, _french(sentence)


# The parser, for translate_en_fr. `words` is the sentence reversed, so that pop() takes the next word.

_NOUN_FORMS = {noun.en: (noun, False) for noun in NOUNS} | {noun.en_plural: (noun, True) for noun in NOUNS}
_VERB_FORMS = {verb.en: verb for verb in VERBS} | {verb.en_3sg: verb for verb in VERBS}
_PRE_NOUN = {adjective.en: adjective for adjective in PRE_NOUN_ADJECTIVES}
_POST_NOUN = {adjective.en: adjective for adjective in POST_NOUN_ADJECTIVES}


def _next_in(words: list[str], options: Collection[str]) -> str | None:
    """Take the next word if it is one of options."""
    return words.pop() if words and words[-1] in options else None


def _expect(words: list[str], options: Collection[str], what: str) -> str:
    word = _next_in(words, options)
    if word is None:
        found = repr(words[-1]) if words else "the end of the sentence"
        raise ValueError(f"expected {what}, found {found}")
    return word


def _parse_noun_phrase(words: list[str]) -> NounPhrase:
    determiner = _expect(words, SINGULAR_DETERMINERS.keys() | PLURAL_DETERMINERS.keys(), "a determiner")
    pre = _PRE_NOUN.get(_next_in(words, _PRE_NOUN))
    post = _POST_NOUN.get(_next_in(words, _POST_NOUN))
    noun, plural = _NOUN_FORMS[_expect(words, _NOUN_FORMS, "an adjective or a noun")]
    if determiner not in (PLURAL_DETERMINERS if plural else SINGULAR_DETERMINERS):
        raise ValueError(f"{determiner!r} does not go with {'plural' if plural else 'singular'} nouns")
    return NounPhrase(determiner, noun, plural, pre, post)


def _parse(english: str) -> Sentence:
    words = english.split()[::-1]
    subject = _next_in(words, PRONOUNS) or _parse_noun_phrase(words)
    negated = _next_in(words, ("do", "does")) is not None
    if negated:
        _expect(words, ("not",), "'not'")
    verb = _VERB_FORMS[_expect(words, _VERB_FORMS, "a verb")]
    objects = [_parse_noun_phrase(words)]
    while _next_in(words, ("and",)):
        objects.append(_parse_noun_phrase(words))
    if words:
        raise ValueError(f"expected the end of the sentence, found {words[-1]!r}")
    if negated and len(objects) > 1:
        raise ValueError("'and' in a negated sentence is not in the grammar")
    return Sentence(subject, verb, negated, tuple(objects))


def translate_en_fr(sentence: str) -> str:
    """The French for an English sentence of the toy-fr grammar; ValueError for any other sentence."""
    english = " ".join(sentence.lower().split())
    try:
        parsed = _parse(english)
    except ValueError as error:
        raise ValueError(f"{sentence!r} is not in the toy-fr grammar: {error}") from None
    if _english(parsed) != english:  # the parser ignores agreement between subject and verb
        raise ValueError(f"{sentence!r} is not in the toy-fr grammar: did you mean {_english(parsed)!r}?")
    return _french(parsed)


TOY_FR_EXAMPLES = (  # all in the held-out split
    "the black cat does not see the white mouse",
    "the black cat does not eat a green cake",
    "the beautiful red cows eat a green cake",
    "your small black cat takes some small black cats",
    "we do not want three big black horses",
    "two small white rabbits do not see three big black horses",
    "the small white mouse carries the small red car and the big white house",
)


TASK = Task(
    name="toy-fr",
    description="Simple English sentences -> French; adjectives such as colours move behind the noun.",
    draw=_draw_toy_fr,
    default_split="train",
    validation_split="heldout",
    max_source_chars=99,
    max_target_chars=108,
    examples=tuple((english, translate_en_fr(english)) for english in TOY_FR_EXAMPLES),
    outside=lambda text: not_generated(text),
)


@functools.cache
def english_words() -> frozenset[str]:
    """Every English word a toy-fr sentence can have: those of 20,000 drawn sentences, both splits (its
    vocabulary is closed; tests/tasks/test_toy_fr.py checks fresh sentences against it)."""
    return frozenset(word for source, _ in TASK.generate(20_000, seed=5, split="all") for word in source.split())


def not_generated(text: str) -> list[str]:
    """Notes on a source toy-fr never generates: words outside its vocabulary, or known words in a sentence its
    grammar cannot build (a bare noun phrase, say: its sentences always have a subject, a verb and an object)."""
    words = english_words()
    unknown = [w for w in dict.fromkeys(text.lower().split()) if w not in words]
    if unknown:
        return [f"This checkpoint knows {len(words)} English words, and never saw "
                f"{', '.join(unknown[:5])}{' …' if len(unknown) > 5 else ''}: expect a made-up translation."]
    try:
        translate_en_fr(text)
    except ValueError:
        return ["Every word is known, but this is not a sentence toy-fr makes (a subject, a verb and an object, as "
                "in `the black cat sees the white mouse`): expect a translation that fits one of its sentences."]
    return []
