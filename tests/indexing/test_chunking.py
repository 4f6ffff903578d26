import itertools

import pytest

from sendsearch.indexing.chunking import ChunkingConfig, chunk_document, chunk_documents
from sendsearch.schema import Document
from sendsearch.sources.readers import read_paths
from sendsearch.text.normalise import sentence_spans

from ..conftest import SEED_PAGES, folder_of


def words(texts):
    return [len(t.split()) for t in texts]


def make(text: str) -> Document:
    return Document(doc_id="d", text=text)


def test_chunk_offsets_cut_exactly_the_chunk_text_from_every_seed():
    documents = list(read_paths(SEED_PAGES))
    for document, chunks in zip(
        documents, chunk_documents(documents, words, ChunkingConfig(max_tokens=60, overlap_tokens=15)), strict=False
    ):
        assert chunks, document.doc_id
        for ordinal, chunk in enumerate(chunks):
            assert chunk.text == document.text[chunk.start : chunk.end]
            assert chunk.ordinal == ordinal
            assert chunk.doc_id == document.doc_id


def test_chunks_respect_the_limit_cover_every_sentence_and_overlap():
    sentences = [f"Sentence number {i} talks about funding for pupils with needs." for i in range(40)]
    text = " ".join(sentences[:20]) + "\n\n" + " ".join(sentences[20:])
    config = ChunkingConfig(max_tokens=50, overlap_tokens=12)
    chunks = chunk_document(make(text), words, config)
    assert all(len(c.text.split()) <= 50 for c in chunks)
    covered = set()
    for chunk in chunks:
        covered |= {text[s:e] for s, e in sentence_spans(text, chunk.start, chunk.end)}
    assert covered == set(sentences)
    overlaps = [b.start < a.end for a, b in itertools.pairwise(chunks)]
    assert sum(overlaps) >= len(chunks) // 2  # sentences are shared across most boundaries


def test_chunks_end_at_a_paragraph_once_reasonably_full():
    first = " ".join(["Alpha beta gamma delta."] * 9)  # 36 words
    second = " ".join(["Epsilon zeta eta theta."] * 9)
    chunks = chunk_document(make(first + "\n\n" + second), words, ChunkingConfig(max_tokens=50, overlap_tokens=0))
    assert chunks[0].text == first


def test_an_over_long_sentence_is_split_at_word_boundaries():
    text = " ".join(f"w{i}" for i in range(130)) + "."
    chunks = chunk_document(make(text), words, ChunkingConfig(max_tokens=50, overlap_tokens=0))
    assert len(chunks) == 3
    assert all(len(c.text.split()) <= 50 for c in chunks)
    assert " ".join(c.text for c in chunks) == text


def test_huge_sentences_next_to_overlap_still_make_progress():
    text = "Short one. " + " ".join(["word"] * 49) + ". " + " ".join(["more"] * 49) + "."
    chunks = chunk_document(make(text), words, ChunkingConfig(max_tokens=50, overlap_tokens=20))
    assert chunks[-1].end == len(text)


def test_config_is_validated():
    with pytest.raises(ValueError, match="at least 16"):
        ChunkingConfig(max_tokens=8)
    with pytest.raises(ValueError, match="overlap_tokens"):
        ChunkingConfig(max_tokens=100, overlap_tokens=60)


def test_chunks_never_exceed_what_the_model_reads(tmp_path, fake_embedder):
    """Issue 21: an embedder's max_tokens bounds every chunk, whatever the chunking settings."""
    from sendsearch import Index

    fake_embedder.max_tokens = 50
    index, _ = Index.build(SEED_PAGES, tmp_path / "index", embedder=fake_embedder)
    backend = folder_of(index)
    rows = backend.chunks(backend.store.chunk_ids().tolist())
    counts = fake_embedder.count_tokens([row.text for row in rows.values()])
    assert max(counts) <= 50
    assert index.info().max_tokens == 50


def test_the_overlap_shrinks_with_a_short_model():
    assert ChunkingConfig().within(500) == ChunkingConfig()
    assert ChunkingConfig().within(50) == ChunkingConfig(max_tokens=50, overlap_tokens=24)
