from datetime import date

import pytest

from sendsearch.sources.cleaning import html_title, html_to_text, strip_furniture
from sendsearch.sources.departments import department_from_question
from sendsearch.text.normalise import find_date, normalise, normalise_for_match, parse_date, sentence_spans


def test_normalise_turns_non_breaking_spaces_into_spaces_and_keeps_paragraphs():
    text = "£32m\u00a0that  Stockport\u200b spends\r\n\r\n\r\nNext   paragraph \n"
    assert normalise(text) == "£32m that Stockport spends\n\nNext paragraph"


def test_normalise_for_match_collapses_space_and_case():
    assert normalise_for_match("General\u00a0 Fund\n") == "general fund"


def test_sentences_keep_decimals_abbreviations_and_initials_whole():
    text = "It is £2.6 billion, e.g. for places. Mr. Smith agreed. J. Smith said no.\nA new line"
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == [
        "It is £2.6 billion, e.g. for places.",
        "Mr. Smith agreed.",
        "J. Smith said no.",
        "A new line",
    ]


def test_sentence_spans_are_absolute_offsets_within_a_range():
    text = "Intro. First one. Second one."
    spans = sentence_spans(text, 7, len(text))
    assert [text[s:e] for s, e in spans] == ["First one.", "Second one."]


def test_dates_in_both_forms():
    assert parse_date("2024-09-10T00:00:00") == date(2024, 9, 10)
    assert parse_date("24th May 2022") == date(2022, 5, 24)
    assert find_date("The consultation will close on Friday 4th of December 2020.") == date(2020, 12, 4)
    assert parse_date("not a date") is None
    assert parse_date(None) is None


def test_html_to_text_keeps_structure_and_drops_scripts():
    html = (
        "<p>Funding is <strong>£1&nbsp;billion</strong>.</p><p> </p>"
        "<ul><li>one</li><li></li><li>two</li></ul>"
        "<table><tr><th>Area</th><th>Plans</th></tr><tr><td>Stockport</td><td>12</td></tr></table>"
        "<script>alert('x')</script><style>p{}</style><p>End<br>line</p>"
    )
    assert html_to_text(html) == "Funding is £1 billion.\n\n• one\n• two\n\nArea | Plans\nStockport | 12\n\nEnd\nline"


def test_html_to_text_on_a_full_page_drops_navigation():
    page = (
        "<html><head><title>T - Site</title></head><body><nav>Home | News</nav>"
        "<h1>Title</h1><p>Body.</p><footer>(c)</footer></body></html>"
    )
    assert html_to_text(page, full_page=True) == "Title\n\nBody."
    assert html_title(page) == "Title"


def test_html_to_text_of_empty_or_broken_markup():
    assert html_to_text("") == ""
    assert html_to_text("   ") == ""
    assert html_to_text("<p>unclosed <b>bold") == "unclosed bold"


def test_strip_furniture_removes_site_chrome_lines():
    page = (
        "Skip to main content\nTitle\n(asked on 16th May 2022) - View Source\nText.\n"
        "Read More News\nReticulating Splines"
    )
    assert strip_furniture(page) == "Title\n(asked on 16th May 2022)\nText."


def test_department_from_question():
    assert (
        department_from_question("To ask the Secretary of State for Education, what ...") == "Department for Education"
    )
    assert department_from_question("To ask the Chancellor of the Exchequer, if he ...") == "Treasury"
    assert (
        department_from_question("To ask the Minister of State, Foreign, Commonwealth and Development Office, what ...")
        == "Foreign, Commonwealth and Development Office"
    )
    assert (
        department_from_question(
            "To ask the hon. Member for Battersea, representing the Church Commissioners, what ..."
        )
        == "Church Commissioners"
    )
    assert department_from_question("Why is the sky blue?") is None


def test_the_asking_part_of_a_question_written_as_several_sentences():
    from sendsearch.text.analysis import asking_part

    parent = (
        "my son has autism and the school says they have no money for a TA. "
        "what funding do schools actually get for SEN?"
    )
    assert asking_part(parent) == "what funding do schools actually get for SEN?"
    assert asking_part("Draft plan arrived. It is vague. Is this allowed?? how do I fix it") == (
        "Is this allowed?? how do I fix it"
    )
    assert asking_part("How long does an EHC needs assessment take?") is None  # one sentence
    assert asking_part("What is an EHCP? Who writes it?") is None  # every sentence asks
    assert asking_part("My son is 7. He has ADHD.") is None  # none does
    assert asking_part("The review was in May.\nCan I ask for another one") == "Can I ask for another one"


def test_the_asking_weight_is_a_share_from_0_to_1():
    from sendsearch.errors import QueryError
    from sendsearch.search.config import SearchConfig

    assert SearchConfig().with_(asking_weight=0.5).long_questions.asking_weight == 0.5
    for bad in (-0.1, 1.5):
        with pytest.raises(QueryError, match="asking_weight must be a number"):
            SearchConfig().with_(asking_weight=bad)
