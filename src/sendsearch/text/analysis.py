"""Text analysis for the keyword side, in one place: what a chunk is indexed under, what a
question is searched for, and which sentences of a passage match it.

Terms are NFKC, lower case, ``£`` amounts spelt out, stop words out and Snowball-stemmed.
Adjacent terms also form pairs ("special school"), kept as tuples of two terms; the
keyword index turns them into integer codes. SEND concepts from the glossary add marker
terms (``~ehcp``) so that "EHCP", "EHC plan" and the long form match one another.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import TYPE_CHECKING, Protocol

from ..errors import QueryError
from ..limits import MAX_QUERY_CHARS
from .glossary import CONCEPT_PREFIX, concept_terms, expand_query
from .normalise import sentence_spans

if TYPE_CHECKING:
    from ..schema import Chunk, Document

__all__ = [
    "ASKING_WORDS",
    "STOPWORDS",
    "Analyzer",
    "FieldWeights",
    "Pair",
    "QueryPlan",
    "Terms",
    "answer_words",
    "asking_part",
    "clean_query",
    "message_words",
    "prefix_stems",
]

# English function words plus the formulaic words of written questions ("To ask the
# Secretary of State ... what steps his Department is taking"), which say nothing about
# the subject. "send" is not here: in this corpus it is almost always SEND.
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "shall",
        "may",
        "might",
        "must",
        "also",
        "per",
        "via",
        "whether",
        "upon",
        "within",
        "without",
        "ask",
        "asked",
        "secretary",
        "state",
        "department",
    ]
)

# Words of asking beyond the stop words ("how much", "how many", "how long", "can I get"):
# they say what kind of answer is wanted, never what it is about. The key points and the
# follow-up reader both leave them out of a question's subject.
ASKING_WORDS = frozenset(["much", "many", "long", "get", "gets"])

_MONEY = re.compile(r"£\s?(\d[\d,]*(?:\.\d+)?)\s?(bn|m|k)?\b", re.I)
_MONEY_UNITS = {"bn": " billion", "m": " million", "k": " thousand"}
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_POSSESSIVE = re.compile(r"'s\b")
_TOKEN = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")

Pair = tuple[str, str]


class FieldWeights(Protocol):
    """How a chunk's fields weigh in its terms (``indexing.config.KeywordConfig`` is one)."""

    @property
    def title_weight(self) -> int: ...
    @property
    def question_weight(self) -> int: ...
    @property
    def text_weight(self) -> int: ...
    @property
    def glossary(self) -> bool: ...
    @property
    def phrases(self) -> bool: ...


@dataclass(frozen=True)
class Terms:
    """The keyword-side terms of one chunk: words (repeats count) and adjacent pairs."""

    words: list[str] = field(default_factory=list)
    pairs: list[Pair] = field(default_factory=list)

    def __add__(self, other: Terms) -> Terms:
        return Terms(self.words + other.words, self.pairs + other.pairs)

    def __mul__(self, times: int) -> Terms:
        return Terms(self.words * times, self.pairs * times)


@dataclass(frozen=True)
class QueryPlan:
    """A question as each side reads it: the text the model embeds, and weighted terms
    and pairs for BM25 (1.0 for the question's own words)."""

    text: str
    dense_text: str
    words: dict[str, float]
    pairs: dict[Pair, float]
    # The sentences that ask, when the question is written as several (``asking_part``):
    # the model embeds them on their own too (``LongQuestions.asking_weight``).
    asking_text: str | None = None

    def weighted(self, kept: set[str], factor: float) -> QueryPlan:
        """The plan with the words not in ``kept`` (and pairs that use them) scaled by ``factor``;
        SEND concept markers are always kept."""
        if factor == 1.0:
            return self

        def keep(word: str) -> bool:
            return word in kept or word.startswith(CONCEPT_PREFIX)

        words = {w: weight if keep(w) else weight * factor for w, weight in self.words.items()}
        pairs = {p: weight if keep(p[0]) and keep(p[1]) else weight * factor for p, weight in self.pairs.items()}
        return replace(self, words=words, pairs=pairs)

    def with_words(self, extra: Sequence[str], weight: float) -> QueryPlan:
        """The plan with more words at ``weight`` (feedback); the question's own keep theirs."""
        words = dict(self.words)
        for word in extra:
            words.setdefault(word, weight)
        return replace(self, words=words)


# A sentence asks when it ends with a question mark or opens with a word of asking.
_ASKS = re.compile(
    r"(?:how|what|when|where|who|whom|whose|why|which|can|could|do|does|did|is|are|was|were|will|would|"
    r"should|shall|has|have|may|must|am)\b",
    re.IGNORECASE,
)
# Parents' sentences often start in lower case ("... for a TA. what funding do schools get?"),
# which the corpus's sentence splitter, made for edited text, would not end; a stop, question
# or exclamation mark before a space, or a line break, ends one here.
_QUESTION_SENTENCE_END = re.compile(r"(?<=[.?!])\s+|\n+")


def asking_part(question: str) -> str | None:
    """The sentences of a question written as several that ask something, joined: in "My son
    is 9 and has ADHD ... I sent the request in March. Isn't there a time limit?" the last.
    None when the question is one sentence, when every sentence asks, or when none does."""
    sentences = [s.strip() for s in _QUESTION_SENTENCE_END.split(question.strip()) if s.strip()]
    if len(sentences) < 2:
        return None
    asking = [s for s in sentences if s.endswith("?") or _ASKS.match(s)]
    if not asking or len(asking) == len(sentences):
        return None
    return " ".join(asking)


# -- the lighter tokenisers of the family --------------------------------------------------
# BM25 and highlights use ``Analyzer`` (NFKC, figures joined, Snowball stems). The chat side
# compares short texts with each other, where a stemmer's cost and its merges are not
# wanted; its tokenisers are here beside the analyser so that there is one place to look.
_PREFIX_WORD = re.compile(r"[a-z0-9£]+")
_MESSAGE_WORD = re.compile(r"[\w][\w'’-]*")
_ANSWER_WORD = re.compile(r"\w+(?:['’]\w+)*")


def prefix_stems(text: str, leave_out: frozenset[str] = frozenset()) -> set[str]:
    """Lower-cased words and numbers cut to their first five letters (a crude stem that
    matches "fund" and "funding"), those in ``leave_out`` left out: for comparing sentences
    with a question (key points)."""
    return {w[:5] for w in _PREFIX_WORD.findall(text.lower()) if w not in leave_out}


def message_words(text: str) -> list[str]:
    """The words of a chat message as typed (case kept, inner apostrophes and hyphens too):
    for reading follow-ups."""
    return [w.strip("'’-") for w in _MESSAGE_WORD.findall(text) if w.strip("'’-")]


def answer_words(text: str) -> list[str]:
    """Lower-cased words of an answer, apostrophes kept inside them ("don't" is one word and
    reads as a negation): for telling near-identical answers apart."""
    return _ANSWER_WORD.findall(text.lower().replace("’", "'"))


# "E.H.C.P." and "S.E.N.D" as people type them: the letters without the dots.
_DOTTED_ACRONYM = re.compile(r"\b(?:[A-Za-z]\.){2,}[A-Za-z]?\b\.?")


def clean_query(query: object) -> str:
    """The query stripped, dotted acronyms joined ("E.H.C.P" -> "EHCP") and cut to
    ``MAX_QUERY_CHARS``; empty or non-text is an error."""
    if not isinstance(query, str):
        raise QueryError("the query must be text")
    query = " ".join(query.split())
    query = _DOTTED_ACRONYM.sub(lambda m: m.group().replace(".", ""), query)
    if not query:
        raise QueryError("the query is empty: type a question, e.g. 'How long does an EHC needs assessment take?'")
    return query[:MAX_QUERY_CHARS]


class Analyzer:
    """Text to BM25 terms. "£32m" and "£32 million" both become "32" and "million";
    "84,054" becomes "84054", so a figure can be searched as written. Thread-safe."""

    def __init__(self) -> None:
        import Stemmer  # PyStemmer: the Snowball English stemmer in C

        self._stemmer = Stemmer.Stemmer("english")
        self._lock = threading.Lock()  # a PyStemmer object is not thread-safe
        self._memo: dict[str, str] = {}

    def words(self, text: str) -> list[str]:
        """Lower-cased words and numbers, before stop words and stemming."""
        text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
        text = _MONEY.sub(lambda m: m.group(1) + _MONEY_UNITS.get((m.group(2) or "").lower(), ""), text)
        text = _POSSESSIVE.sub("", _THOUSANDS.sub("", text))
        return _TOKEN.findall(text)

    def stem(self, words: Sequence[str]) -> list[str]:
        memo = self._memo
        missing = [w for w in set(words) if w not in memo]
        if missing:
            with self._lock:
                for word, stem in zip(missing, self._stemmer.stemWords(missing), strict=True):
                    memo[word] = stem
        return [memo[w] for w in words]

    def terms(self, text: str) -> list[str]:
        """BM25 terms of a text."""
        return self.stem([w for w in self.words(text) if w not in STOPWORDS])

    def field(self, text: str, *, pairs: bool) -> Terms:
        """A field's terms, with its adjacent pairs when ``pairs`` (no pair spans two fields)."""
        words = self.terms(text)
        return Terms(words, list(pairwise(words)) if pairs else [])

    # -- chunks ---------------------------------------------------------------------------
    def chunk_terms(
        self, documents: Sequence[Document], chunks: Sequence[Sequence[Chunk]], config: FieldWeights
    ) -> Iterator[Terms]:
        """Terms of each chunk: its text plus its document's heading and question, weighted
        by the config, and the SEND concepts any of them mention. A generator: the keyword
        index turns each chunk's strings into integers before the next chunk's are made."""
        for document, doc_chunks in zip(documents, chunks, strict=True):
            citation = document.citation
            context = (
                self.field(citation.heading or "", pairs=config.phrases) * config.title_weight
                + self.field(citation.question or "", pairs=config.phrases) * config.question_weight
            )
            for chunk in doc_chunks:
                terms = context + self.field(chunk.text, pairs=config.phrases) * config.text_weight
                if config.glossary:
                    terms = terms + Terms(concept_terms(f"{document.context}\n{chunk.text}"))
                yield terms

    # -- questions ------------------------------------------------------------------------
    def plan(
        self,
        query: str,
        *,
        phrase_weight: float,
        concept_weight: float,
        literal_weight: float,
        expand_dense: bool,
    ) -> QueryPlan:
        """How each side reads a question. Its words weigh 1 and its adjacent pairs
        ``phrase_weight``; each SEND concept it names adds a marker at ``concept_weight``,
        and the literal words that named it drop to ``literal_weight`` so that a rare
        spelling ("EHCP") does not outweigh the concept shared by all its spellings."""
        text = clean_query(query)
        words = self.terms(text)
        weighted = dict.fromkeys(words, 1.0)
        pairs = dict.fromkeys(pairwise(words), phrase_weight) if phrase_weight > 0 else {}
        dense_text, concepts, matched = expand_query(text)
        if concept_weight > 0:
            for spelling in matched:
                for term in self.terms(spelling):
                    weighted[term] = min(weighted.get(term, 1.0), literal_weight)
            weighted.update(dict.fromkeys(concepts, concept_weight))
        dense = dense_text if expand_dense else text
        return QueryPlan(text, dense, weighted, pairs, asking_part(dense))

    # -- highlights -----------------------------------------------------------------------
    def highlights(
        self, text: str, offset: int, plan: QueryPlan, idf: Callable[[str], float]
    ) -> tuple[tuple[int, int], ...]:
        """The sentence(s) of a passage that share the most (IDF-weighted) terms with the
        question, as spans offset by ``offset`` (the passage's start in its document)."""
        asked = {term for term, weight in plan.words.items() if weight >= 1.0}
        if not asked:
            return ()
        concepts = {term for term in asked if term.startswith(CONCEPT_PREFIX)}
        scored = []
        for start, end in sentence_spans(text):
            sentence = text[start:end]
            terms = set(self.terms(sentence)) & asked
            if concepts:
                terms.update(concept_terms(sentence, among=concepts))
            score = sum(idf(term) for term in terms)
            if score > 0:
                scored.append((score, start, end))
        if not scored:
            return ()
        best = max(score for score, _, _ in scored)
        # The best sentence, and any other nearly as good (an answer can span two sentences).
        chosen = sorted((s, e) for score, s, e in scored if score >= 0.8 * best)[:2]
        return tuple((offset + s, offset + e) for s, e in chosen)
