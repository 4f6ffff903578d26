"""Questions about systems outside England are out of scope: passages that never mention the place are weak."""

from __future__ import annotations

import pytest

from sendsearch.search.scope import elsewhere_named


@pytest.mark.parametrize(
    ("question", "place"),
    [
        ("We've moved to Glasgow; the school offers a Co-ordinated Support Plan instead of an EHCP", "Scotland"),
        ("How does the ALN Act in Wales change IDPs?", "Wales"),
        ("Does an IEP from our school district transfer?", "the United States"),
        ("My son has a 504 plan in the US", "the United States"),
        ("SEND support in Belfast schools", "Northern Ireland"),
        ("How long does an EHC needs assessment take?", None),
        ("Can you help us get SEND support for our son?", None),  # "us" is not the US
        ("Is the DfE's plan for councils in England working?", None),
    ],
)
def test_places_outside_england_are_recognised(question, place):
    found = elsewhere_named(question)
    assert (found.name if found else None) == place


def test_passages_that_never_mention_the_place_asked_about_are_weak(tmp_path, fake_embedder):
    from sendsearch import Index

    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "england.txt").write_text("EHC plans\n\nAn EHC plan sets out the support a child needs in England.")
    (folder / "scotland.txt").write_text("Support plans\n\nIn Scotland a co-ordinated support plan is used instead.")
    index, _ = Index.build([folder], tmp_path / "index", embedder=fake_embedder)
    bm25 = {p.doc_id: p for p in index.search("support plan for a child in Scotland", k=2, mode="bm25")}
    assert bm25["england.txt"].weak_match  # no cosine in BM25 alone, but the scope still holds
    hybrid = {p.doc_id: p for p in index.search("support plan for a child in Scotland", k=2)}
    assert hybrid["england.txt"].weak_match
    assert hybrid["england.txt"].explanation["weak"] == "about England, not Scotland"
    assert not hybrid["scotland.txt"].weak_match
    unnamed = {p.doc_id: p for p in index.search("support plan for a child", k=2)}
    assert "about England" not in unnamed["england.txt"].explanation.get("weak", "")
