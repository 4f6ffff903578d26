"""The keyword side: BM25 over chunk text (with its heading and question) using bm25s.

bm25s precomputes every (term, chunk) score into a sparse matrix, so a query is a few
vectorised column sums: 0.6 ms p50 over the 49,450-answer corpus, against 130 ms for
SQLite FTS5 on the same chunks (benchmarks/keyword_engines.py; docs/performance.md).
Adjacent term pairs get columns of their own. The column ids of every chunk are kept
beside the matrix so ``add`` can rebuild it without re-reading text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ...indexing.config import KeywordConfig

if TYPE_CHECKING:
    from ...text.analysis import Pair, Terms

__all__ = ["KeywordIndex", "KeywordScores"]


@dataclass(frozen=True)
class KeywordScores:
    """BM25 scores of every chunk for one question, and the ids of its best chunks."""

    chunk_ids: np.ndarray  # every chunk id, sorted (the index's rows)
    scores: np.ndarray  # score per row
    top: np.ndarray  # chunk ids of the best-scoring chunks (score > 0), best first

    def of(self, chunk_ids: np.ndarray) -> np.ndarray:
        """The scores of some chunk ids (all of them in the index)."""
        return self.scores[np.searchsorted(self.chunk_ids, chunk_ids)]


class KeywordIndex:
    """BM25 over chunks, rows aligned with chunk ids, saved as bm25s files plus token ids.

    Columns are the vocabulary's terms, then (on an index built with ``phrases``) one
    column per distinct adjacent pair of terms. A pair is known by the ids of its two
    terms packed into one int64 (``first << 32 | second``) and looked up in a sorted array,
    so the million or so pairs of a large corpus cost 8 bytes each in memory rather than a
    Python string and a dictionary entry.
    """

    def __init__(
        self,
        model: Any,
        chunk_ids: np.ndarray,
        tokens: np.ndarray,
        offsets: np.ndarray,
        vocab: dict[str, int],
        pair_codes: np.ndarray,
        config: KeywordConfig,
    ) -> None:
        self._model = model
        self.chunk_ids = chunk_ids
        self._tokens = tokens  # column ids per chunk (terms, then pairs)
        self._offsets = offsets
        self._vocab = vocab
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
    def build(
        cls,
        chunk_ids: Sequence[int],
        terms: Iterable[Terms],
        config: KeywordConfig,
        vocabulary: Sequence[str] = (),
    ) -> KeywordIndex:
        """An index of chunks given as their analysed terms (``analysis.Analyzer.chunk_terms``).

        ``terms`` may be a generator: each chunk's strings are turned into integer arrays as
        they come, so the strings of the whole corpus are never held at once. ``vocabulary``
        numbers terms first, in its order (an update keeps its base's numbering, as
        ``updated`` does, so that ties between feedback terms break alike)."""
        vocab: dict[str, int] = {term: i for i, term in enumerate(vocabulary)}
        rows = [_encode(chunk, vocab) for chunk in terms]
        return cls._from_rows(np.asarray(chunk_ids, dtype=np.int64), rows, vocab, config)

    @classmethod
    def _from_rows(
        cls,
        chunk_ids: np.ndarray,
        rows: list[tuple[np.ndarray, np.ndarray]],
        vocab: dict[str, int],
        config: KeywordConfig,
    ) -> KeywordIndex:
        """Build from (term ids, pair codes) per chunk: pairs get the columns after the terms."""
        import bm25s

        base = len(vocab)
        pair_codes = np.unique(np.concatenate([codes for _, codes in rows] or [np.zeros(0, np.int64)]))
        columns = [
            np.concatenate([terms, (base + np.searchsorted(pair_codes, codes)).astype(np.int32)])
            for terms, codes in rows
        ]
        model = bm25s.BM25(k1=config.k1, b=config.b, method=config.method)
        if columns:
            # The low-level entry point: the vocabulary is ours (terms.json, pair_codes.npy),
            # so bm25s need not hold a second copy of it.
            model.scores = model.build_index_from_ids(
                list(range(base + len(pair_codes))), _AsLists(columns), show_progress=False
            )
            model.vocab_dict = {}
        lengths = np.fromiter((len(row) for row in columns), dtype=np.int64, count=len(columns))
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        # Made after bm25s has finished with its own arrays, so the two do not add up.
        tokens = np.concatenate(columns) if columns else np.zeros(0, np.int32)
        return cls(model, chunk_ids, tokens, offsets, vocab, pair_codes, config)

    def updated(
        self, remove_chunk_ids: Sequence[int], add_chunk_ids: Sequence[int], add_terms: Iterable[Terms]
    ) -> KeywordIndex:
        """A new index without some chunks and with others; the BM25 statistics are recomputed."""
        removed = {int(c) for c in remove_chunk_ids}
        keep_rows = [r for r, c in enumerate(self.chunk_ids) if int(c) not in removed]
        vocab = dict(self._vocab)
        base = len(self._vocab)
        rows = []
        for r in keep_rows:
            columns = np.asarray(self._tokens[self._offsets[r] : self._offsets[r + 1]])
            rows.append((columns[columns < base], np.asarray(self._pair_codes[columns[columns >= base] - base])))
        rows += [_encode(chunk, vocab) for chunk in add_terms]
        chunk_ids = np.concatenate([self.chunk_ids[keep_rows], np.asarray(add_chunk_ids, dtype=np.int64)])
        return KeywordIndex._from_rows(chunk_ids.astype(np.int64), rows, vocab, self.config)

    # -- searching ----------------------------------------------------------------------
    def _pair_column(self, pair: Pair) -> int | None:
        a, b = self._vocab.get(pair[0]), self._vocab.get(pair[1])
        if a is None or b is None or not len(self._pair_codes):
            return None
        code = (a << 32) | b
        i = int(np.searchsorted(self._pair_codes, code))
        return len(self._vocab) + i if i < len(self._pair_codes) and self._pair_codes[i] == code else None

    def _columns(self, words: Mapping[str, float], pairs: Mapping[Pair, float]) -> list[tuple[int, float]]:
        found = [(self._vocab.get(word), weight) for word, weight in words.items()]
        found += [(self._pair_column(pair), weight) for pair, weight in pairs.items()]
        return [(column, weight) for column, weight in found if column is not None]

    def search(
        self, words: Mapping[str, float], pairs: Mapping[Pair, float], k: int, allowed: np.ndarray | None = None
    ) -> KeywordScores:
        """BM25 scores of every chunk for weighted words and pairs (1.0 for the question's
        own words), and the ``k`` best chunk ids with a positive score. ``allowed`` (chunk
        ids) restricts the search: other chunks score 0."""
        scores = np.zeros(len(self.chunk_ids), dtype=np.float32)
        data, indices, indptr = self._data, self._indices, self._indptr
        if len(self.chunk_ids):
            for column, weight in self._columns(words, pairs):
                start, end = indptr[column], indptr[column + 1]
                # Rows within one column are distinct, so fancy-index addition is exact.
                scores[indices[start:end]] += weight * data[start:end]
        if allowed is not None:
            mask = np.zeros(len(scores), dtype=bool)
            mask[self.rows_for(allowed)] = True
            scores[~mask] = 0.0
        rows = np.flatnonzero(scores > 0)
        if len(rows) > k:
            rows = rows[np.argpartition(-scores[rows], k - 1)[:k]]
        rows = rows[np.argsort(-scores[rows], kind="stable")]
        return KeywordScores(self.chunk_ids, scores, self.chunk_ids[rows])

    def present(self, words: Iterable[str], chunk_ids: np.ndarray) -> set[str]:
        """Those of ``words`` that occur in any of some chunks (text, heading or question)."""
        rows = self.rows_for(chunk_ids)
        if not len(rows):
            return set()
        tokens = np.concatenate([self._tokens[self._offsets[r] : self._offsets[r + 1]] for r in rows])
        found = set(np.unique(tokens[tokens < len(self._vocab)]).tolist())
        return {word for word in words if self._vocab.get(word) in found}

    def feedback_terms(self, chunk_ids: np.ndarray, count: int) -> list[str]:
        """The ``count`` terms that best characterise some chunks (summed tf x idf), for
        pseudo-relevance feedback. Pairs and concept markers are left out: the markers
        are added by rule."""
        rows = self.rows_for(chunk_ids)
        if not len(rows):
            return []
        tokens = np.concatenate([self._tokens[self._offsets[r] : self._offsets[r + 1]] for r in rows])
        ids, tf = np.unique(tokens[tokens < len(self._vocab)], return_counts=True)
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
        column = self._vocab.get(term)
        return 0.0 if column is None or not len(self.chunk_ids) else float(self._idfs(np.asarray([column]))[0])

    def _idfs(self, columns: np.ndarray) -> np.ndarray:
        """Lucene IDF (the formula bm25s uses) from the columns' posting counts, computed
        when asked: an array for every column would hold a million pair IDFs in memory."""
        df = (self._indptr[columns + 1] - self._indptr[columns]).astype(np.float64)
        return np.log1p((len(self.chunk_ids) - df + 0.5) / (df + 0.5))

    # -- as rows, for a store that keeps postings (the PostgreSQL store) ----------------
    def columns(self, separator: str) -> list[tuple[str, bool, int]]:
        """Each column's term (a pair as its two terms joined by ``separator``), whether it is
        a pair, and how many chunks hold it, in column order."""
        df = np.diff(self._indptr).tolist() if len(self.chunk_ids) else [0] * (len(self._terms) + len(self._pair_codes))
        named = [(term, False) for term in self._terms]
        named += [
            (f"{self._terms[int(code) >> 32]}{separator}{self._terms[int(code) & 0xFFFFFFFF]}", True)
            for code in self._pair_codes
        ]
        return [(term, pair, int(count)) for (term, pair), count in zip(named, df, strict=True)]

    def postings(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every (column, chunk) the score matrix holds: column ids, chunk ids, BM25 weights
        (the very float32 values searches add) and term frequencies."""
        if not len(self.chunk_ids):
            empty = np.zeros(0, np.int64)
            return empty, empty, np.zeros(0, np.float32), empty
        columns = np.repeat(np.arange(len(self._indptr) - 1), np.diff(self._indptr))
        rows = np.asarray(self._indices, dtype=np.int64)
        token_rows = np.repeat(np.arange(len(self.chunk_ids)), np.diff(self._offsets))
        # (column, row) as one sortable code: term frequencies are how often each code occurs.
        width = np.int64(len(self.chunk_ids))
        codes, tf = np.unique(np.asarray(self._tokens, np.int64) * width + token_rows, return_counts=True)
        wanted = columns * width + rows
        at = np.searchsorted(codes, wanted)
        return columns, self.chunk_ids[rows], np.asarray(self._data, np.float32), tf[at]

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
        """Load a saved index; ValueError (naming the file) if its parts do not fit together,
        so a damaged or half-copied folder is refused rather than searched with wrong scores."""
        import bm25s

        config = KeywordConfig.from_dict(_json(folder / "config.json", dict))
        chunk_ids = np.load(folder / "chunk_ids.npy", allow_pickle=False)
        terms = _json(folder / "terms.json", list)
        if not all(isinstance(term, str) for term in terms) or len(set(terms)) != len(terms):
            raise ValueError("keyword/terms.json does not hold distinct terms")
        vocab = {term: i for i, term in enumerate(terms)}
        pairs_path = folder / "pair_codes.npy"  # absent from indexes saved before pairs
        if config.phrases and not pairs_path.exists():
            raise ValueError("keyword/pair_codes.npy is missing")
        pair_codes = (
            np.load(pairs_path, mmap_mode="r", allow_pickle=False) if pairs_path.exists() else np.zeros(0, np.int64)
        )
        if len(chunk_ids):
            # Memory-mapped: the score matrix is paged in by the OS, not copied per process.
            model = bm25s.BM25.load(str(folder / "bm25s"), mmap=True, allow_pickle=False, load_vocab=False)
        else:
            model = bm25s.BM25(k1=config.k1, b=config.b, method=config.method)
        tokens = np.load(folder / "tokens.npy", mmap_mode="r", allow_pickle=False)
        offsets = np.load(folder / "offsets.npy", allow_pickle=False)
        index = cls(model, chunk_ids, tokens, offsets, vocab, pair_codes, config)
        index._check()
        return index

    def _check(self) -> None:
        """Raise ValueError unless the arrays agree with each other (a few vector passes)."""
        rows, columns = len(self.chunk_ids), len(self._vocab) + len(self._pair_codes)
        if not _sorted_ids(self.chunk_ids):
            raise ValueError("keyword/chunk_ids.npy is not a sorted list of chunk ids")
        if not _sorted_ids(self._pair_codes):
            raise ValueError("keyword/pair_codes.npy is not a sorted list of pairs")
        offsets, tokens = self._offsets, self._tokens
        if not _offsets_fit(offsets, rows, len(tokens)):
            raise ValueError("keyword/offsets.npy does not match the chunks and their tokens")
        in_vocabulary = not len(tokens) or 0 <= tokens.min() <= tokens.max() < columns
        if tokens.ndim != 1 or tokens.dtype.kind != "i" or not in_vocabulary:
            raise ValueError("keyword/tokens.npy names terms the vocabulary does not hold")
        if rows and not self._matrix_fits(rows, columns):
            raise ValueError("the keyword score matrix (keyword/bm25s) does not match the terms and chunks")

    def _matrix_fits(self, rows: int, columns: int) -> bool:
        """Whether the sparse score matrix has a column per term and pair, and rows per chunk."""
        indptr, indices = self._indptr, self._indices
        return (
            len(indptr) == columns + 1
            and indptr[0] == 0
            and not np.any(np.diff(indptr) < 0)
            and indptr[-1] == len(indices)
            and len(self._data) == len(indices)
            and (not len(indices) or 0 <= indices.min() <= indices.max() < rows)
        )


def _sorted_ids(values: np.ndarray) -> bool:
    """A flat array of whole numbers, strictly increasing."""
    return values.ndim == 1 and values.dtype.kind == "i" and not np.any(np.diff(values) <= 0)


def _offsets_fit(offsets: np.ndarray, rows: int, tokens: int) -> bool:
    """Row offsets into the token array: one per chunk and one more, from 0 to its end, never falling."""
    return (
        offsets.ndim == 1
        and offsets.dtype.kind == "i"
        and len(offsets) == rows + 1
        and offsets[0] == 0
        and not np.any(np.diff(offsets) < 0)
        and offsets[-1] == tokens
    )


def _json(path: Path, kind: type) -> Any:
    value = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(value, kind):
        raise ValueError(f"keyword/{path.name} does not hold a JSON {kind.__name__}")
    return value


def _encode(terms: Terms, vocab: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Term ids (new terms added to ``vocab``) and pair codes (``first << 32 | second``) of one chunk."""
    ids = [vocab.setdefault(word, len(vocab)) for word in terms.words]
    codes = [(vocab.setdefault(a, len(vocab)) << 32) | vocab.setdefault(b, len(vocab)) for a, b in terms.pairs]
    return np.asarray(ids, dtype=np.int32), np.asarray(codes, dtype=np.int64)


class _AsLists(Sequence[list[int]]):
    """Rows of column ids shown to bm25s as the lists of ints it reads, one row at a time:
    lists of every row at once would hold a Python int per token (11 million at the full
    corpus's 70,000 chunks)."""

    def __init__(self, rows: list[np.ndarray]) -> None:
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i: int) -> list[int]:  # type: ignore[override]
        return self._rows[i].tolist()
