"""Sentence- and paragraph-aware chunking with overlap, measured in model word pieces.

A chunk is a run of whole sentences whose word-piece count fits the embedding model. A
chunk closes early at a paragraph end once it is reasonably full, so chunks follow the
document's own structure. Consecutive chunks share their boundary sentences (the overlap),
so an answer that straddles two chunks is whole in at least one of them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

from ..schema import Chunk, Document
from ..text.normalise import paragraph_spans, sentence_spans

__all__ = ["ChunkingConfig", "TokenCounter", "chunk_document", "chunk_documents"]

TokenCounter = Callable[[Sequence[str]], list[int]]


@dataclass(frozen=True)
class ChunkingConfig:
    """Chunk size limits in word pieces (all-MiniLM-L6-v2 reads at most 256 per input)."""

    max_tokens: int = 200
    overlap_tokens: int = 40
    # Close a chunk at a paragraph end once it holds this share of max_tokens.
    paragraph_fill: float = 0.6

    def __post_init__(self) -> None:
        if self.max_tokens < 16:
            raise ValueError("max_tokens must be at least 16")
        if not 0 <= self.overlap_tokens < self.max_tokens // 2:
            raise ValueError("overlap_tokens must be between 0 and half of max_tokens")

    def within(self, limit: int) -> ChunkingConfig:
        """These limits, made to fit a model that reads at most ``limit`` word pieces: chunks
        never exceed it, and the overlap stays under half a chunk."""
        if limit >= self.max_tokens:
            return self
        return replace(self, max_tokens=limit, overlap_tokens=min(self.overlap_tokens, max(0, limit // 2 - 1)))

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class _Unit:
    """A sentence, or a piece of one too long to fit, with its word-piece count."""

    start: int
    end: int
    tokens: int
    paragraph_end: bool


def _split_long(text: str, start: int, end: int, tokens: int, limit: int) -> list[tuple[int, int, int]]:
    """Split an over-long sentence at word boundaries into pieces of about ``limit`` tokens."""
    words = [(start + m.start(), start + m.end()) for m in re.finditer(r"\S+", text[start:end])]
    pieces = math.ceil(tokens / limit)
    per_piece = math.ceil(len(words) / pieces)
    spans = []
    for i in range(0, len(words), per_piece):
        group = words[i : i + per_piece]
        spans.append((group[0][0], group[-1][1], math.ceil(tokens * len(group) / len(words))))
    return spans


def _units(document: Document, counts: dict[tuple[int, int], int], limit: int) -> list[_Unit]:
    units: list[_Unit] = []
    for p_start, p_end in paragraph_spans(document.text):
        sentences = sentence_spans(document.text, p_start, p_end)
        for number, (s, e) in enumerate(sentences):
            last = number == len(sentences) - 1
            tokens = counts[(s, e)]
            if tokens <= limit:
                units.append(_Unit(s, e, tokens, last))
                continue
            pieces = _split_long(document.text, s, e, tokens, limit)
            for k, (ps, pe, pt) in enumerate(pieces):
                units.append(_Unit(ps, pe, pt, last and k == len(pieces) - 1))
    return units


def _pack(units: list[_Unit], config: ChunkingConfig) -> list[tuple[int, int]]:
    """Group consecutive units into chunk spans (first unit index, end unit index)."""
    groups: list[tuple[int, int]] = []
    first = 0
    while first < len(units):
        total, last = 0, first
        while last < len(units) and total + units[last].tokens <= config.max_tokens:
            total += units[last].tokens
            last += 1
            if units[last - 1].paragraph_end and total >= config.paragraph_fill * config.max_tokens:
                break
        last = max(last, first + 1)  # always make progress
        groups.append((first, last))
        if last >= len(units):
            break
        # Step back over trailing sentences that fit in the overlap budget.
        back, budget = last, config.overlap_tokens
        while back - 1 > first and units[back - 1].tokens <= budget:
            budget -= units[back - 1].tokens
            back -= 1
        # The next chunk must reach past this one: drop overlap that leaves no room.
        overlap = sum(unit.tokens for unit in units[back:last])
        while back < last and overlap + units[last].tokens > config.max_tokens:
            overlap -= units[back].tokens
            back += 1
        first = back
    return groups


def chunk_documents(
    documents: Sequence[Document], count_tokens: TokenCounter, config: ChunkingConfig = ChunkingConfig()
) -> list[list[Chunk]]:
    """Chunks for each document, counting word pieces for all sentences in one batch."""
    spans_per_doc = []
    texts: list[str] = []
    for document in documents:
        spans = [
            span
            for p_start, p_end in paragraph_spans(document.text)
            for span in sentence_spans(document.text, p_start, p_end)
        ]
        spans_per_doc.append(spans)
        texts.extend(document.text[s:e] for s, e in spans)
    counts_flat = count_tokens(texts) if texts else []
    result: list[list[Chunk]] = []
    position = 0
    for document, spans in zip(documents, spans_per_doc, strict=False):
        counts = dict(zip(spans, counts_flat[position : position + len(spans)], strict=False))
        position += len(spans)
        units = _units(document, counts, config.max_tokens)
        chunks = []
        for ordinal, (first, last) in enumerate(_pack(units, config)):
            start, end = units[first].start, units[last - 1].end
            chunks.append(Chunk(document.doc_id, ordinal, start, end, document.text[start:end]))
        result.append(chunks)
    return result


def chunk_document(
    document: Document, count_tokens: TokenCounter, config: ChunkingConfig = ChunkingConfig()
) -> list[Chunk]:
    """Chunks of one document."""
    return chunk_documents([document], count_tokens, config)[0]
