"""The keyword side: BM25 over chunk text (with its heading and question) using bm25s.

bm25s precomputes every (term, chunk) score into a sparse matrix, so a query is a few
vectorised column sums: 0.6 ms p50 over the 49,450-answer corpus, against 130 ms for
SQLite FTS5 on the same chunks (benchmarks/keyword_engines.py; docs/performance.md).
Adjacent term pairs get columns of their own. The column ids of every chunk are kept
beside the matrix so ``add`` can rebuild it without re-reading text.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np

__all__ = ["Analyzer", "KeywordConfig", "KeywordIndex", "STOPWORDS"]

# English function words plus the formulaic words of written questions ("To ask the
# Secretary of State ... what steps his Department is taking"), which say nothing about
# the subject. "send" is not here: in this corpus it is almost always SEND.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves shall may might must also per via whether upon within without ask asked
    secretary state department""".split()
)

_MONEY = re.compile(r"£\s?(\d[\d,]*(?:\.\d+)?)\s?(bn|m|k)?\b", re.I)
_MONEY_UNITS = {"bn": " billion", "m": " million", "k": " thousand"}
_TOKEN = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")


@dataclass(frozen=True)
class KeywordConfig:
    """BM25 parameters and how much the heading and question count against the text."""

    k1: float = 1.2
    b: float = 0.75
    method: str = "lucene"
    title_weight: int = 1
    question_weight: int = 1
    text_weight: int = 1
    # Add SEND concept markers (see glossary.py) to each chunk's terms.
    glossary: bool = True
    # Also index each pair of adjacent terms ("special school"), so that a question's
    # phrases can count beyond its words (SearchConfig.phrase_weight).
    phrases: bool = True

    def to_dict(self) -> dict[str, float | str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, saved: dict) -> KeywordConfig:
        """Settings as saved in a manifest or config.json. Indexes saved before phrase pairs
        existed record no setting for them, and have none."""
        return cls(**{"phrases": False, **saved})


class Analyzer:
    """Text to BM25 terms: NFKC, lower case, £ amounts spelt out, stop words out, stemmed.

    "£32m" and "£32 million" both become the terms "32" and "million"; "84,054" becomes
    "84054" so a figure can be searched as written.
    """

    def __init__(self) -> None:
        import Stemmer  # PyStemmer: the Snowball English stemmer in C

        self._stemmer = Stemmer.Stemmer("english")
        self._lock = threading.Lock()  # a PyStemmer object is not thread-safe
        self._memo: dict[str, str] = {}

    def words(self, text: str) -> list[str]:
        """Lower-cased words and numbers, before stop words and stemming."""
        text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
        text = _MONEY.sub(lambda m: m.group(1) + _MONEY_UNITS.get((m.group(2) or "").lower(), ""), text)
        text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
        text = re.sub(r"'s\b", "", text)
        return _TOKEN.findall(text)

    def stem(self, words: Sequence[str]) -> list[str]:
        memo = self._memo
        missing = [w for w in set(words) if w not in memo]
        if missing:
            with self._lock:
                for word, stem in zip(missing, self._stemmer.stemWords(missing)):
                    memo[word] = stem
        return [memo[w] for w in words]

    def terms(self, text: str) -> list[str]:
        """BM25 terms of a text."""
        return self.stem([w for w in self.words(text) if w not in STOPWORDS])

    @staticmethod
    def pairs(terms: Sequence[str]) -> list[str]:
        """Adjacent term pairs ("special school"), stop words already out."""
        return [f"{a} {b}" for a, b in pairwise(terms)]


class KeywordIndex:
    """BM25 over chunks, rows aligned with chunk ids, saved as bm25s files plus token ids.

    Columns are the vocabulary's terms, then (on an index built with ``phrases``) one
    column per distinct adjacent pair of terms. A pair is known by the ids of its two
    terms packed into one int64 (``first << 32 | second``) and looked up in a sorted array,
    so the million or so pairs of a large corpus cost 8 bytes each in memory rather than a
    Python string and a dictionary entry.
    """

    def __init__(self, model, chunk_ids: np.ndarray, tokens: np.ndarray, offsets: np.ndarray, vocab: dict[str, int], pair_codes: np.ndarray, config: KeywordConfig) -> None:
        self._model = model
        self.chunk_ids = chunk_ids
        self._tokens = tokens  # column ids per chunk (terms, then pairs)
        self._offsets = offsets
        self.vocab = vocab
        self._pair_codes = pair_codes  # sorted; pair i is column len(vocab) + i
        self.config = config
        self._terms = sorted(vocab, key=vocab.__getitem__)
        # Plain array views of the (memory-mapped) score matrix: cheaper to slice per term.
        matrix = getattr(model, "scores", None) or {}
        self._data = np.asarray(matrix.get("data", np.zeros(0, np.float32))).view(np.ndarray)
        self._indices = np.asarray(matrix.get("indices", np.zeros(0, np.int32))).view(np.ndarray)
        self._indptr = np.asarray(matrix.get("indptr", np.zeros(1, np.int64))).view(np.ndarray)

    # -- building -----------------------------------------------------------------------
    @classmethod
    def build(cls, chunk_ids: Sequence[int], term_lists: Iterable[Sequence[str]], config: KeywordConfig) -> KeywordIndex:
        """An index of chunks given as terms; a term with a space in it is a pair ("special school").

        ``term_lists`` may be a generator: each chunk's strings are turned into integer
        arrays as they come, so the strings of the whole corpus are never held at once."""
        vocab: dict[str, int] = {}
        rows = [_encode(terms, vocab) for terms in term_lists]
        return cls._from_rows(np.asarray(chunk_ids, dtype=np.int64), rows, vocab, config)

    @classmethod
    def _from_rows(cls, chunk_ids: np.ndarray, rows: list[tuple[np.ndarray, np.ndarray]], vocab: dict[str, int], config: KeywordConfig) -> KeywordIndex:
        """Build from (term ids, pair codes) per chunk: pairs get the columns after the terms."""
        import bm25s

        base = len(vocab)
        pair_codes = np.unique(np.concatenate([codes for _, codes in rows] or [np.zeros(0, np.int64)]))
        columns = [np.concatenate([terms, (base + np.searchsorted(pair_codes, codes)).astype(np.int32)]) for terms, codes in rows]
        model = bm25s.BM25(k1=config.k1, b=config.b, method=config.method)
        if columns:
            # The low-level entry point: the vocabulary is ours (terms.json, pair_codes.npy),
            # so bm25s need not hold a second copy of it.
            model.scores = model.build_index_from_ids(list(range(base + len(pair_codes))), _AsLists(columns), show_progress=False)
            model.vocab_dict = {}
        lengths = np.fromiter((len(row) for row in columns), dtype=np.int64, count=len(columns))
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        # Made after bm25s has finished with its own arrays, so the two do not add up.
        tokens = np.concatenate(columns) if columns else np.zeros(0, np.int32)
        return cls(model, chunk_ids, tokens, offsets, vocab, pair_codes, config)

    def updated(self, remove_chunk_ids: Sequence[int], add_chunk_ids: Sequence[int], add_term_lists: Iterable[Sequence[str]]) -> KeywordIndex:
        """A new index without some chunks and with others; the BM25 statistics are recomputed."""
        removed = set(int(c) for c in remove_chunk_ids)
        keep_rows = [r for r, c in enumerate(self.chunk_ids) if int(c) not in removed]
        vocab = dict(self.vocab)
        base = len(self.vocab)
        rows = []
        for r in keep_rows:
            columns = np.asarray(self._tokens[self._offsets[r] : self._offsets[r + 1]])
            rows.append((columns[columns < base], np.asarray(self._pair_codes[columns[columns >= base] - base])))
        rows += [_encode(terms, vocab) for terms in add_term_lists]
        chunk_ids = np.concatenate([self.chunk_ids[keep_rows], np.asarray(add_chunk_ids, dtype=np.int64)])
        return KeywordIndex._from_rows(chunk_ids.astype(np.int64), rows, vocab, self.config)

    # -- searching ----------------------------------------------------------------------
    def _column(self, term: str) -> int | None:
        if " " not in term:
            return self.vocab.get(term)
        first, _, second = term.partition(" ")
        a, b = self.vocab.get(first), self.vocab.get(second)
        if a is None or b is None or not len(self._pair_codes):
            return None
        code = (a << 32) | b
        i = int(np.searchsorted(self._pair_codes, code))
        return len(self.vocab) + i if i < len(self._pair_codes) and self._pair_codes[i] == code else None

    def scores(self, weighted_terms: dict[str, float]) -> np.ndarray:
        """BM25 score of every chunk row for terms with weights (1.0 for the user's own words)."""
        result = np.zeros(len(self.chunk_ids), dtype=np.float32)
        if not len(self.chunk_ids):
            return result
        data, indices, indptr = self._data, self._indices, self._indptr
        for term, weight in weighted_terms.items():
            column = self._column(term)
            if column is None:
                continue
            start, end = indptr[column], indptr[column + 1]
            # Rows within one column are distinct, so fancy-index addition is exact.
            result[indices[start:end]] += weight * data[start:end]
        return result

    def search(self, weighted_terms: dict[str, float], k: int, allowed_rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (chunk ids, scores) with a positive score, best first."""
        scores = self.scores(weighted_terms)
        if allowed_rows is not None:
            mask = np.zeros(len(scores), dtype=bool)
            mask[allowed_rows] = True
            scores[~mask] = 0.0
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) > k:
            candidates = candidates[np.argpartition(-scores[candidates], k - 1)[:k]]
        order = candidates[np.argsort(-scores[candidates], kind="stable")]
        return self.chunk_ids[order], scores[order]

    def feedback_terms(self, chunk_ids: np.ndarray, count: int) -> list[str]:
        """The ``count`` terms that best characterise some chunks (summed tf x idf), for
        pseudo-relevance feedback. Pairs and concept markers are left out: the markers
        are added by rule."""
        rows = self.rows_for(chunk_ids)
        if not len(rows):
            return []
        tokens = np.concatenate([self._tokens[self._offsets[r] : self._offsets[r + 1]] for r in rows])
        ids, tf = np.unique(tokens[tokens < len(self.vocab)], return_counts=True)
        weights = tf * self._idfs(ids)
        ranked = ids[np.argsort(-weights, kind="stable")]
        return [term for term in (self._terms[i] for i in ranked) if not term.startswith("~")][:count]

    def rows_for(self, chunk_ids: np.ndarray) -> np.ndarray:
        """Row positions of chunk ids (for filter masks).

        Chunk ids only ever grow and removals keep order, so rows are sorted by chunk id.
        """
        chunk_ids = np.asarray(chunk_ids, dtype=np.int64)
        rows = np.searchsorted(self.chunk_ids, chunk_ids)
        rows = np.clip(rows, 0, max(len(self.chunk_ids) - 1, 0))
        found = self.chunk_ids[rows] == chunk_ids if len(self.chunk_ids) else np.zeros(len(rows), bool)
        return rows[found]

    def idf(self, term: str) -> float:
        """Inverse document frequency of a term, for weighing words in highlights."""
        column = self._column(term)
        return 0.0 if column is None or not len(self.chunk_ids) else float(self._idfs(np.asarray([column]))[0])

    def _idfs(self, columns: np.ndarray) -> np.ndarray:
        """Lucene IDF (the formula bm25s uses) from the columns' posting counts, computed
        when asked: an array for every column would hold a million pair IDFs in memory."""
        df = (self._indptr[columns + 1] - self._indptr[columns]).astype(np.float64)
        return np.log1p((len(self.chunk_ids) - df + 0.5) / (df + 0.5))

    # -- persistence --------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if len(self.chunk_ids):
            self._model.save(str(folder / "bm25s"), allow_pickle=False)
        np.save(folder / "chunk_ids.npy", self.chunk_ids, allow_pickle=False)
        np.save(folder / "tokens.npy", self._tokens, allow_pickle=False)
        np.save(folder / "offsets.npy", self._offsets, allow_pickle=False)
        np.save(folder / "pair_codes.npy", self._pair_codes, allow_pickle=False)
        (folder / "terms.json").write_text(json.dumps(self._terms), encoding="utf-8")
        (folder / "config.json").write_text(json.dumps(self.config.to_dict()), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        import bm25s

        config = KeywordConfig.from_dict(json.loads((folder / "config.json").read_text(encoding="utf-8")))
        chunk_ids = np.load(folder / "chunk_ids.npy", allow_pickle=False)
        terms = json.loads((folder / "terms.json").read_text(encoding="utf-8"))
        vocab = {term: i for i, term in enumerate(terms)}
        pairs_path = folder / "pair_codes.npy"  # absent from indexes saved before pairs
        pair_codes = np.load(pairs_path, mmap_mode="r", allow_pickle=False) if pairs_path.exists() else np.zeros(0, np.int64)
        if len(chunk_ids):
            # Memory-mapped: the score matrix is paged in by the OS, not copied per process.
            model = bm25s.BM25.load(str(folder / "bm25s"), mmap=True, allow_pickle=False, load_vocab=False)
        else:
            model = bm25s.BM25(k1=config.k1, b=config.b, method=config.method)
        tokens = np.load(folder / "tokens.npy", mmap_mode="r", allow_pickle=False)
        offsets = np.load(folder / "offsets.npy", allow_pickle=False)
        return cls(model, chunk_ids, tokens, offsets, vocab, pair_codes, config)


def _encode(terms: Sequence[str], vocab: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Term ids (new terms added to ``vocab``) and pair codes of one chunk's terms."""
    ids, codes = [], []
    for term in terms:
        if " " in term:
            first, _, second = term.partition(" ")
            codes.append((vocab.setdefault(first, len(vocab)) << 32) | vocab.setdefault(second, len(vocab)))
        else:
            ids.append(vocab.setdefault(term, len(vocab)))
    return np.asarray(ids, dtype=np.int32), np.asarray(codes, dtype=np.int64)


class _AsLists(Sequence):
    """Rows of column ids shown to bm25s as the lists of ints it reads, one row at a time:
    lists of every row at once would hold a Python int per token (11 million at the full
    corpus's 70,000 chunks)."""

    def __init__(self, rows: list[np.ndarray]) -> None:
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i):  # type: ignore[override]
        return self._rows[i].tolist()
