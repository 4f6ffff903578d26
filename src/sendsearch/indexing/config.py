"""Settings fixed when an index is built, recorded in its manifest and read back for updates."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from ..errors import index_problem
from .chunking import ChunkingConfig
from .manifest import Manifest

__all__ = ["HNSW_THRESHOLD", "KEYWORD_METHODS", "IndexConfig", "KeywordConfig", "config_from_manifest"]

# Exact search grows with the vectors: 5.3 ms at 25k and 9.7 ms at 50k on a 2-core AVX2
# machine, 4.2 ms at 70k on an AVX-512 one, and a query searches twice (feedback).
# Past 20,000 vectors HNSW answers in about a millisecond; docs/performance.md has the
# measurements and its recall against exact search on the real vectors.
HNSW_THRESHOLD = 20_000
# The bm25s scoring methods whose score is 0 for a chunk without the term: the keyword index
# keeps only the (term, chunk) scores that are not, so it scores these, and only these, right.
KEYWORD_METHODS = ("lucene", "robertson", "atire")


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

    def __post_init__(self) -> None:
        if self.method not in KEYWORD_METHODS:
            raise ValueError(
                f"the BM25 method must be one of {', '.join(KEYWORD_METHODS)}, not {self.method!r} "
                "(bm25l and bm25+ give every chunk a score for the terms it lacks, which the keyword index "
                "does not keep)"
            )

    def to_dict(self) -> dict[str, float | str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, saved: dict) -> KeywordConfig:
        """Settings as saved in a manifest or config.json. Indexes saved before phrase pairs
        existed record no setting for them, and have none."""
        return cls(**{"phrases": False, **saved})


@dataclass(frozen=True)
class IndexConfig:
    """Settings fixed when an index is built; they are recorded in its manifest."""

    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    keyword: KeywordConfig = field(default_factory=KeywordConfig)
    # How a chunk's vector carries what was asked: "mix" averages the chunk's vector with
    # that of its heading and question (each embedded once, so repeated answers cost
    # nothing); "prefix" embeds them as one text; "none" ignores them.
    context: Literal["mix", "prefix", "none"] = "mix"
    context_weight: float = 0.3
    hnsw_threshold: int = HNSW_THRESHOLD
    # Withdrawn questions were never answered; they are left out unless asked for.
    include_withdrawn: bool = False

    def embedding_dict(self, precision: str) -> dict[str, object]:
        return {"context": self.context, "context_weight": self.context_weight, "precision": precision}


def config_from_manifest(manifest: Manifest, directory: Path | None = None) -> IndexConfig:
    """The settings an existing index was built with, so updates match them; a manifest
    whose settings do not make a configuration is damaged (IndexFormatError)."""
    try:
        return IndexConfig(
            chunking=ChunkingConfig(**manifest.chunking),
            keyword=KeywordConfig.from_dict(manifest.keyword),
            context=manifest.embedding.get("context", "mix"),
            context_weight=float(manifest.embedding.get("context_weight", 0.3)),
            hnsw_threshold=int(manifest.vectors.get("hnsw_threshold", HNSW_THRESHOLD)),
            include_withdrawn=bool(manifest.reading.get("include_withdrawn", False)),
        )
    except (TypeError, ValueError) as error:
        where = directory or Path(".")
        raise index_problem(where, f"has settings this sendsearch cannot use ({error})", manifest.sources) from None
