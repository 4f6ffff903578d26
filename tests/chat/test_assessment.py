"""The reply measures of `sendsearch eval`, checked against counts worked out by hand (issue 20)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from sendsearch.chat.assessment import judge_reply, reply_measures, summarise
from sendsearch.chat.conversation import Reading
from sendsearch.chat.keypoints import KeyPoint
from sendsearch.chat.replies import Reply, ShownPassage
from sendsearch.cli import main
from sendsearch.schema import Citation, Passage


def passage(doc_id: str) -> Passage:
    return Passage(doc_id, f"Text of {doc_id}.", 1.0, 1, 0, 10, Citation(kind="written_answer"))


def reply(*doc_ids: str, points: tuple[int, ...] = (), shown: int = 3) -> Reply:
    numbered = [ShownPassage(n, passage(d)) for n, d in enumerate(doc_ids, start=1)]
    return Reply(
        "q",
        Reading("q", message="q"),
        key_points=tuple(KeyPoint(f"point from {n}", n) for n in points),
        shown=tuple(numbered[:shown]),
        more=tuple(numbered[shown:]),
    )


GRADES = {"a": 2, "b": 1, "c": 0, "d": 2}


def test_four_replies_counted_by_hand():
    verdicts = [
        # 1: key points from [2] = "a" (answers); shown a? no: shown b, a, c -> holds an answer, led by b (no).
        judge_reply("1", reply("b", "a", "c", points=(2,)), GRADES.get),
        # 2: key points from [1] = "c" (does not answer); shown c, b, x -> no answer shown; x unjudged.
        judge_reply("2", reply("c", "b", "x", points=(1,)), GRADES.get),
        # 3: no key points; shown c, b -> no answer shown: silent.
        judge_reply("3", reply("c", "b"), GRADES.get),
        # 4: no key points; shown d first -> holds an answer and leads with it; "a" behind more is not shown.
        judge_reply("4", reply("d", "c", "b", "a"), GRADES.get),
    ]
    measures = summarise(verdicts)
    # Key points in replies 1 and 2; the first one answers in reply 1 only.
    assert (measures.first_point_answers, measures.with_key_points) == (1, 2)
    # No answer shown in replies 2 and 3; reply 3 stays silent.
    assert (measures.silent_without_answer, measures.without_answer) == (1, 2)
    # An answer shown in replies 1 and 4; reply 4 leads with it.
    assert (measures.led_by_answer, measures.with_answer) == (1, 2)
    assert measures.unjudged_shown == 1
    assert (measures.first_point_precision, measures.silent_when_none, measures.led_by_answer_share) == (0.5, 0.5, 0.5)
    assert measures.to_dict()["per_query"]["2"]["holds_answer"] is False


def test_a_reply_that_could_not_be_built_is_counted_as_an_error():
    failed = Reply("q", Reading("q", message="q"), error="the answer scorer is damaged")
    measures = summarise([judge_reply("1", failed, GRADES.get), judge_reply("2", reply("a"), GRADES.get)])
    assert measures.errors == 1
    assert measures.to_dict()["per_query"]["1"]["error"] == "the answer scorer is damaged"


def test_an_empty_set_has_no_shares():
    measures = summarise([])
    assert measures.first_point_precision is None
    assert measures.silent_when_none is None


def test_measures_group_identical_answers_and_skip_unjudged_questions(seed_index):
    # Two questions; only one judged. A document judged 2 makes its word-for-word twins answer too.
    replies = {"How much does Stockport spend?": reply("x1", "x2", points=(2,))}
    measures = reply_measures(
        seed_index,
        {"q1": "How much does Stockport spend?", "q2": "unjudged"},
        {"q1": {"x2": 2, "x1": 0}},
        build=lambda index, question: replies[question],
    )
    assert measures.questions == 1
    assert (measures.first_point_answers, measures.with_key_points, measures.led_by_answer) == (1, 1, 0)


def test_eval_prints_the_reply_measures(tmp_path, seed_index, use_fake_embedder):
    queries = tmp_path / "q.jsonl"
    queries.write_text(json.dumps({"qid": "q1", "query": "How much does Stockport spend on SEND?"}) + "\n")
    some = seed_index.search("How much does Stockport spend on SEND?", 3)[0].doc_id
    qrels = tmp_path / "qrels.txt"
    qrels.write_text(f"q1 0 {some} 2\n")
    runner = CliRunner()
    out = runner.invoke(
        main,
        [
            "eval",
            "--index",
            str(seed_index.directory),
            "--queries",
            str(queries),
            "--qrels",
            str(qrels),
            "--mode",
            "hybrid",
        ],
    )
    assert out.exit_code == 0, out.output
    assert "replies, as the page builds them (3 passages shown first):" in out.output
    assert "led by an answering passage: " in out.output
    as_json = runner.invoke(
        main,
        [
            "eval",
            "--index",
            str(seed_index.directory),
            "--queries",
            str(queries),
            "--qrels",
            str(qrels),
            "--mode",
            "hybrid",
            "--json",
        ],
    )
    replies = json.loads(as_json.output)["replies"]
    assert replies["questions"] == 1
    assert replies["with_answer"] + replies["without_answer"] == 1
