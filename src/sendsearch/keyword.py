"""The keyword side: BM25 over chunk text (with its heading and question) using bm25s.

bm25s precomputes every (term, chunk) score into a sparse matrix, so a query is a few
vectorised column sums: about 1 ms over the 49,450-answer corpus, against 35 ms for
SQLite FTS5 on the same chunks (measured; see docs/performance.md). The token ids of every
chunk are kept beside the matrix so ``add`` can rebuild it without re-reading text.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
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

    def to_dict(self) -> dict[str, float | str]:
        return asdict(self)


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


class KeywordIndex:
    """BM25 over chunks, rows aligned with chunk ids, saved as bm25s files plus token ids."""

    def __init__(self, model, chunk_ids: np.ndarray, tokens: np.ndarray, offsets: np.ndarray, vocab: dict[str, int], config: KeywordConfig) -> None:
        self._model = model
        self.chunk_ids = chunk_ids
        self._tokens = tokens
        self._offsets = offsets
        self.vocab = vocab
        self.config = config
        self._terms = sorted(vocab, key=vocab.__getitem__)
        # Plain array views of the (memory-mapped) score matrix: cheaper to slice per term.
        matrix = getattr(model, "scores", None) or {}
        self._data = np.asarray(matrix.get("data", np.zeros(0, np.float32))).view(np.ndarray)
        self._indices = np.asarray(matrix.get("indices", np.zeros(0, np.int32))).view(np.ndarray)
        self._indptr = np.asarray(matrix.get("indptr", np.zeros(1, np.int64))).view(np.ndarray)
        # Lucene IDF of every term, from its posting count (the same formula bm25s uses).
        df = np.diff(self._indptr).astype(np.float64)
        self._idf = np.log1p((len(chunk_ids) - df + 0.5) / (df + 0.5)).astype(np.float32)

    # -- building -----------------------------------------------------------------------
    @classmethod
    def build(cls, chunk_ids: Sequence[int], term_lists: Sequence[Sequence[str]], config: KeywordConfig) -> KeywordIndex:
        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(term, len(vocab)) for term in terms] for terms in term_lists]
        return cls._from_ids(np.asarray(chunk_ids, dtype=np.int64), ids, vocab, config)

    @classmethod
    def _from_ids(cls, chunk_ids: np.ndarray, ids: list[list[int]], vocab: dict[str, int], config: KeywordConfig) -> KeywordIndex:
        import bm25s

        model = bm25s.BM25(k1=config.k1, b=config.b, method=config.method)
        if ids:
            model.index((ids, dict(vocab)), show_progress=False)
        lengths = np.fromiter((len(row) for row in ids), dtype=np.int64, count=len(ids))
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        tokens = np.fromiter((t for row in ids for t in row), dtype=np.int32, count=int(offsets[-1]))
        return cls(model, chunk_ids, tokens, offsets, vocab, config)

    def updated(self, remove_chunk_ids: Sequence[int], add_chunk_ids: Sequence[int], add_term_lists: Sequence[Sequence[str]]) -> KeywordIndex:
        """A new index without some chunks and with others; the BM25 statistics are recomputed."""
        removed = set(int(c) for c in remove_chunk_ids)
        keep_rows = [r for r, c in enumerate(self.chunk_ids) if int(c) not in removed]
        vocab = dict(self.vocab)
        ids = [self._tokens[self._offsets[r] : self._offsets[r + 1]].tolist() for r in keep_rows]
        ids += [[vocab.setdefault(term, len(vocab)) for term in terms] for terms in add_term_lists]
        chunk_ids = np.concatenate([self.chunk_ids[keep_rows], np.asarray(add_chunk_ids, dtype=np.int64)])
        return KeywordIndex._from_ids(chunk_ids.astype(np.int64), ids, vocab, self.config)

    # -- searching ----------------------------------------------------------------------
    def scores(self, weighted_terms: dict[str, float]) -> np.ndarray:
        """BM25 score of every chunk row for terms with weights (1.0 for the user's own words)."""
        result = np.zeros(len(self.chunk_ids), dtype=np.float32)
        if not len(self.chunk_ids):
            return result
        data, indices, indptr = self._data, self._indices, self._indptr
        for term, weight in weighted_terms.items():
            column = self.vocab.get(term)
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
        pseudo-relevance feedback. Concept markers are left out: they are added by rule."""
        rows = self.rows_for(chunk_ids)
        if not len(rows):
            return []
        tokens = np.concatenate([self._tokens[self._offsets[r] : self._offsets[r + 1]] for r in rows])
        ids, tf = np.unique(tokens, return_counts=True)
        weights = tf * self._idf[ids]
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
        column = self.vocab.get(term)
        return 0.0 if column is None or not len(self.chunk_ids) else float(self._idf[column])

    # -- persistence --------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if len(self.chunk_ids):
            self._model.save(str(folder / "bm25s"), allow_pickle=False)
        np.save(folder / "chunk_ids.npy", self.chunk_ids, allow_pickle=False)
        np.save(folder / "tokens.npy", self._tokens, allow_pickle=False)
        np.save(folder / "offsets.npy", self._offsets, allow_pickle=False)
        (folder / "terms.json").write_text(json.dumps(self._terms), encoding="utf-8")
        (folder / "config.json").write_text(json.dumps(self.config.to_dict()), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        import bm25s

        config = KeywordConfig(**json.loads((folder / "config.json").read_text(encoding="utf-8")))
        chunk_ids = np.load(folder / "chunk_ids.npy", allow_pickle=False)
        terms = json.loads((folder / "terms.json").read_text(encoding="utf-8"))
        vocab = {term: i for i, term in enumerate(terms)}
        if len(chunk_ids):
            # Memory-mapped: the score matrix is paged in by the OS, not copied per process.
            model = bm25s.BM25.load(str(folder / "bm25s"), mmap=True, allow_pickle=False)
        else:
            model = bm25s.BM25(k1=config.k1, b=config.b, method=config.method)
        tokens = np.load(folder / "tokens.npy", mmap_mode="r", allow_pickle=False)
        offsets = np.load(folder / "offsets.npy", allow_pickle=False)
        return cls(model, chunk_ids, tokens, offsets, vocab, config)
