"""The near-identical fold: the same answer to different questions is shown once, but two
answers that differ in a figure or a negation are two answers (issue 19, finding 10)."""

from __future__ import annotations

import pytest

from sendsearch.chat.replies import collapse_near_identical
from sendsearch.schema import Citation, Passage

# Written answers 1828818 and 1828819 of ../shared/data/send-written-answers.jsonl, as the
# index holds them (cleaned): one about requests decided within six weeks, one about those
# that were not. They share most of their words and were once shown as "the same answer".
DECIDED = (
    "The total number of requests for an education, health and care (EHC) needs assessment which were decided "
    "within six weeks can be found here: "
    "https://explore-education-statistics.service.gov.uk/find-statistics/education-health-and-care-plans/2025. "
    "This has been available since 26 June 2025.\n\nA further breakdown of these figures showing the outcome of "
    "requests for an EHC needs assessment, which were decided within six weeks, is shown in the attached table."
)
NOT_DECIDED = (
    "The total number of requests for an education, health and care (EHC) needs assessment which were not decided "
    "within six weeks can be found here: "
    "https://explore-education-statistics.service.gov.uk/find-statistics/education-health-and-care-plans/2025. "
    "This has been available since 26 June 2025.\n\nA further breakdown of these figures showing the outcomes of "
    "requests for an EHC needs assessment, which were not decided within six weeks, is shown in the attached table."
)

FUNDING = (
    "The department has allocated £1 billion for high needs in 2025-26, and local authorities will receive their "
    "allocations in the spring. Councils should plan their provision with parents and carers, and with schools "
    "and colleges in their area, so that children get the support they need."
)


def passage(text: str, doc_id: str) -> Passage:
    return Passage(doc_id, text, 1.0, 1, 0, len(text), Citation(kind="written_answer"))


def folds(*texts: str) -> list[list[int]]:
    """The fold's groups, as positions of the texts: [[0, 2], [1]] when the third joins the first."""
    groups = collapse_near_identical([passage(text, str(n)) for n, text in enumerate(texts)])
    return [[int(kept.doc_id), *(int(p.doc_id) for p in folded)] for kept, folded in groups]


def test_decided_and_not_decided_within_six_weeks_are_two_answers():
    assert folds(DECIDED, NOT_DECIDED) == [[0], [1]]
    assert folds(NOT_DECIDED, DECIDED) == [[0], [1]]


@pytest.mark.parametrize(
    "changed",
    [
        FUNDING.replace("£1 billion", "£2 billion"),
        FUNDING.replace("2025-26", "2024-25"),
        FUNDING.replace("£1 billion", "£1.5 billion"),
        FUNDING.replace("in the spring", "in three months"),
    ],
    ids=["amount", "year", "decimal", "number-word"],
)
def test_answers_with_different_figures_are_kept_apart(changed):
    assert folds(FUNDING, changed) == [[0], [1]]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("will receive their", "will not receive their"),
        ("Councils should plan", "Councils should never plan"),
        ("so that children get", "so that no children get"),
        ("Councils should plan", "Councils shouldn't plan"),
        ("Councils should plan", "Councils cannot plan"),
    ],
    ids=["not", "never", "no", "n't", "cannot"],
)
def test_answers_that_differ_by_a_negation_are_kept_apart(first, second):
    assert first in FUNDING
    assert folds(FUNDING, FUNDING.replace(first, second)) == [[0], [1]]


def test_truly_near_identical_answers_still_fold():
    other = "Short breaks are funded from the council's general fund and are not part of the high needs block."
    reworded = FUNDING.replace("parents and carers", "parents or carers")
    assert folds(FUNDING, other, reworded) == [[0, 2], [1]]
    # The same figures in both, and the same "not", however often they come.
    assert folds(NOT_DECIDED, NOT_DECIDED.replace("the outcomes of", "the outcome of")) == [[0, 1]]


def test_a_passage_cut_at_another_place_folds_with_the_whole_answer():
    # Chunks of one answer start and end at different places: what one leaves out at its
    # edges, figures included, it does not contradict.
    cut = FUNDING.split(", and local authorities")[1]
    assert folds(FUNDING, "and local authorities" + cut) == [[0, 1]]
    assert folds(FUNDING + " The fund rose by 4% in 2024.", FUNDING) == [[0, 1]]


@pytest.mark.slow
def test_the_reply_on_the_bundled_corpus_shows_both_answers(eval_index):
    """The question of the issue, with the real model: both answers are passages of their own."""
    from sendsearch import SearchRequest
    from sendsearch.chat.replies import build_reply

    question = "How long does the council have to do an EHC needs assessment?"
    reply = build_reply(eval_index, question, None, SearchRequest(question, 10), 3)
    shown = {s.passage.doc_id: s for s in reply.passages}
    assert {"1828818", "1828819"} <= shown.keys()
    assert all(not s.near_identical for s in shown.values() if s.passage.doc_id in ("1828818", "1828819"))
