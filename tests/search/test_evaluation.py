"""The evaluation harness on a hand-computed case, and the glossary."""

from __future__ import annotations

import json
import math

import pytest

from sendsearch.schema import Citation, Passage
from sendsearch.search.evaluation import (
    METRICS,
    answer_level,
    evaluate,
    evaluate_rankings,
    fact_found,
    load_facts,
    load_qrels,
    load_queries,
    ranked_documents,
    text_answer_key,
)
from sendsearch.text.glossary import concept_terms, expand_query


def passage(doc_id: str, text: str = "", same=()) -> Passage:
    return Passage(doc_id, text, 1.0, 1, 0, len(text), Citation(kind="written_answer"), same_answer_as=tuple(same))


def test_metrics_match_a_hand_computation():
    qrels = {"q": {"a": 2, "b": 1, "c": 0}, "r": {"x": 1}}
    rankings = {"q": ["c", "b", "z", "a"], "r": ["y"]}
    aggregate, per_query = evaluate_rankings(rankings, qrels)
    # q: gains 0, 1, 0, 2 at ranks 1-4 (linear gains, as trec_eval); ideal 2, 1.
    dcg = 1 / math.log2(3) + 2 / math.log2(5)
    ideal = 2 + 1 / math.log2(3)
    assert per_query["q"]["ndcg@10"] == pytest.approx(dcg / ideal)
    assert per_query["q"]["recall@10"] == 1.0
    assert per_query["q"]["mrr@10"] == 0.5
    assert per_query["r"] == dict.fromkeys(METRICS, 0.0)
    # q: ideal at 5 is the same as at 10; a (grade 2) is at rank 4, so no answer in the top 3.
    assert per_query["q"]["ndcg@5"] == pytest.approx(dcg / ideal)
    assert per_query["q"]["success@3"] == 0.0
    assert aggregate["ndcg@10"] == pytest.approx(dcg / ideal / 2)
    assert aggregate["mrr@10"] == 0.25


def test_recall_cuts_at_ten():
    qrels = {"q": {f"d{i}": 1 for i in range(12)}}
    aggregate, _ = evaluate_rankings({"q": [f"d{i}" for i in range(12)]}, qrels)
    assert aggregate["recall@10"] == pytest.approx(10 / 12)
    assert aggregate["recall@20"] == 1.0


def test_a_collapsed_passage_ranks_the_documents_it_cites_after_it():
    passages = [passage("a", same=("b", "c")), passage("d", same=("a",)), passage("e")]
    assert ranked_documents(passages) == ["a", "b", "c", "d", "e"]


def test_facts_compare_after_nfkc_and_whitespace():
    assert fact_found([passage("x", "Stockport spends £32m\u00a0on SEND")], "£32m on  SEND")
    assert not fact_found([passage("x"), passage("y"), passage("z"), passage("w", "£32m")], "£32m")


def test_evaluate_reports_modes_unjudged_and_facts(tmp_path):
    def search(query, mode):
        return [passage("good"), passage("unknown", "the answer is 42")] if mode == "hybrid" else [passage("bad")]

    from sendsearch.search.evaluation import Fact

    report = evaluate(
        search,
        {"q": "question"},
        {"q": {"good": 2, "bad": 0}},
        modes=("bm25", "hybrid"),
        facts=[Fact("f", "q", "42", "unknown")],
    )
    data = report.to_dict()
    assert data["modes"]["hybrid"]["ndcg@10"] == 1.0
    assert data["modes"]["bm25"]["ndcg@10"] == 0.0
    assert data["unjudged_in_top10"]["hybrid"]["q"] == ["unknown"]
    assert data["facts"]["top3"] == 1.0
    json.dumps(data)


def test_loaders_read_the_shared_formats_and_reject_bad_lines(tmp_path):
    (tmp_path / "q.jsonl").write_text('{"qid": "q1", "query": "EHC plans"}\n\n')
    (tmp_path / "qrels.txt").write_text("q1 0 123 2\nq1 0 doc.txt 0\n")
    (tmp_path / "facts.jsonl").write_text('{"qid": "f1", "query": "How much?", "answer": "£1", "doc_id": "d"}\n')
    assert load_queries(tmp_path / "q.jsonl") == {"q1": "EHC plans"}
    assert load_qrels(tmp_path / "qrels.txt") == {"q1": {"123": 2, "doc.txt": 0}}
    assert load_facts(tmp_path / "facts.jsonl")[0].answer == "£1"
    from sendsearch import SendSearchError

    (tmp_path / "bad.txt").write_text("q1 123 2\n")
    with pytest.raises(SendSearchError, match=r"bad\.txt:1"):
        load_qrels(tmp_path / "bad.txt")


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        ("Education, Health and Care Plans (EHCPs)", "~ehcp"),
        ("an EHC plan", "~ehcp"),
        ("the Dedicated Schools Grant", "~dsg"),
        ("pupils in Alternative Provision (AP)", "~ap"),
        ("a written statement of action", "~wsoa"),
        ("the SENDCo", "~senco"),
        ("children with special educational needs", "~send"),
        ("the safety valve programme", "~safety_valve"),
        ("the Delivering Better Value programme", "~dbv"),
    ],
)
def test_concepts_found_in_text(text, concept):
    assert concept in concept_terms(text)


@pytest.mark.parametrize("text", ["we will send letters", "a mobile app", "the ap chemistry exam", "la la land"])
def test_words_that_look_like_acronyms_are_not_concepts(text):
    assert concept_terms(text) == []


def test_query_expansion_both_ways_and_send_the_verb():
    dense, terms, matched = expand_query("support without an EHCP")
    assert dense == "support without an EHCP (education, health and care plan)"
    assert terms == ["~ehcp"]
    assert matched == ["EHCP"]
    assert expand_query("education, health and care plan delays")[1] == ["~ehcp"]
    assert "~send" in expand_query("send support in schools")[1]
    assert "~send" not in expand_query("can the council send my son to another school")[1]


def test_answer_level_groups_identical_answers_in_judgments_and_ranking():
    # a and b carry the same answer (a judged 1, b judged 2): one answer graded 2. The ranking
    # b, a, c, d counts that answer once, at rank 1; c (grade 1) moves up to rank 2.
    answer_of = {"a": "A", "b": "A", "c": "C", "d": "D"}.__getitem__
    rankings, qrels = answer_level({"q": ["b", "a", "c", "d"]}, {"q": {"a": 1, "b": 2, "c": 1}}, answer_of)
    assert rankings == {"q": ["A", "C", "D"]}
    assert qrels == {"q": {"A": 2, "C": 1}}
    aggregate, _ = evaluate_rankings(rankings, qrels)
    # DCG = 2 + 1/log2(3) equals the ideal: a perfect answer-level ranking, although the
    # document-level one (b, a, c: grades 2, 1, 1) has a relevant document at rank 3 instead of 2.
    assert aggregate["ndcg@10"] == pytest.approx(1.0)
    document_level, _ = evaluate_rankings({"q": ["b", "a", "c", "d"]}, {"q": {"a": 1, "b": 2, "c": 1}})
    assert document_level["ndcg@10"] == pytest.approx(1.0)
    flattering, _ = evaluate_rankings({"q": ["b", "a", "d", "c"]}, {"q": {"a": 1, "b": 2, "c": 1}})
    honest, _ = evaluate_rankings(
        *answer_level({"q": ["b", "a", "d", "c"]}, {"q": {"a": 1, "b": 2, "c": 1}}, answer_of)
    )
    # With c pushed down, the copy of the answer at rank 2 props up the document-level score.
    ideal = 2 + 1 / math.log2(3)
    assert honest["ndcg@10"] == pytest.approx((2 + 1 / math.log2(4)) / ideal)
    assert flattering["ndcg@10"] > honest["ndcg@10"]
    assert honest["success@3"] == 1.0


def test_text_answer_keys_ignore_case_and_spacing():
    assert text_answer_key("The  answer.", "1") == text_answer_key("the answer.", "2")
    assert text_answer_key("", "1") != text_answer_key("", "2")


def test_questions_without_a_relevant_document_do_not_count():
    aggregate, per_query = evaluate_rankings({"q": ["a"], "none": ["b"]}, {"q": {"a": 2}, "none": {"b": 0}})
    assert set(per_query) == {"q"}
    assert aggregate["ndcg@10"] == 1.0
