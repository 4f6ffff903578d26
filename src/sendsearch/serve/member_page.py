"""A member's page for people: ``/members/{id}``, the page's view of ``search.people.member_view``.

A reply links every asker and answerer it names (and its "Who asked these" counts) here, in a
new tab, so the reply stays where it was in the tab it came from. The page is plain HTML
written on the server: no script, nothing fetched from anywhere (its style is inline), every
string from the corpus or the members table escaped (``render.escape``), links to http(s)
pages only (``render.safe_link``), and a Content-Security-Policy that would stop a script even
if one got through. It lists the member's SEND questions asked and answers given, newest
first, each with its date, who answered or asked it, and its public page; the member's party,
house and seat head it, and a link goes back to the search page.

``members_app(index)`` is mounted at ``/members`` by ``server.create_server``. Its links are
relative ("../" is the search page, "4125" another member), so it works behind a proxy that
serves the whole site under a path.
"""

from __future__ import annotations

import html
from typing import Any

from ..chat.render import escape, safe_link
from ..errors import QueryError, SendSearchError
from ..limits import MAX_FILTER_CHARS, MAX_K
from ..members import Member, lookup_member, member_periods, resolve_member
from ..schema import Citation
from ..search.index import Index
from ..search.people import MemberView, member_view

__all__ = ["MEMBER_PAGE_CSP", "member_href", "member_html", "members_app"]

# Listed at first; "Show up to 100" lists ``MAX_K``.
LISTED = 20
# No script at all; the inline style only; nothing from any other host; no form posts; not framed elsewhere.
MEMBER_PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
# Phones first, as the chat page: system fonts, 16 px text, AA contrast (the page's link blue
# and grey: 6.7:1 and 7.6:1 on white), every link and toggle a 44 px target (WCAG 2.5.5).
_CSS = """
body { margin: 0; font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; color: #111827;
  background: #fff; }
main, nav { max-width: 44rem; margin: 0 auto; padding: 0.5rem 1rem 2rem; }
nav { padding-bottom: 0; }
a { color: #1d4ed8; }
a:focus-visible, summary:focus-visible { outline: 3px solid #1d4ed8; outline-offset: 2px; }
a.back, a.title, footer a, .more a { display: inline-block; min-height: 44px; min-width: 44px; box-sizing: border-box;
  padding: 10px 0; }
a.title { display: block; font-weight: 600; }
p.title { font-weight: 600; margin: 0.5rem 0 0; }
/* A name inside a line of text: a 44 px target whose extra height overlaps the lines around it. */
a.member { display: inline-block; min-height: 44px; box-sizing: border-box; padding: 10px 0; margin: -10px 0; }
h1 { font-size: 1.6rem; margin: 0.25rem 0; }
h2 { font-size: 1.2rem; margin: 1.5rem 0 0.25rem; }
.who, .meta, footer { color: #374151; }
.meta { margin: 0.1rem 0; }
ol { padding-left: 1.5rem; margin: 0; }
li { margin: 0 0 1rem; overflow-wrap: anywhere; }
summary { cursor: pointer; color: #1d4ed8; text-decoration: underline; min-height: 44px; box-sizing: border-box;
  padding: 10px 0; }
footer { margin-top: 2rem; font-size: 0.92rem; }
"""


def member_href(member_id: int) -> str:
    """The member's page, relative to the chat page (which is at the site's root)."""
    return f"members/{member_id}"


def _name(view: MemberView, member: Member | None) -> str:
    """The table's name; else the name the corpus gives them (a member the table does not know)."""
    if member is not None:
        return member.name
    for _, citation in view.asked:
        if citation.asked_by:
            return citation.asked_by
    for _, citation in view.answered:
        if citation.answered_by:
            return citation.answered_by
    return f"Member {view.member_id}"


def _who(member: Member | None) -> str:
    """ "Labour MP for City of Durham · House of Commons · member since 13 December 2019"."""
    if member is None:
        return "Not in the members table this server has: the name is as the records give it."
    parts = []
    if member.house == "Commons":
        role = f"MP for {member.constituency}" if member.constituency else "MP"
        parts.append(f"{member.party} {role}" if member.party else role)
        parts.append("House of Commons")
    else:
        if member.party:
            parts.append(member.party)
        parts.append("House of Lords")
    start = _served_since(member)
    if start:
        parts.append(f"member since {start}" if not member.end else f"member from {start} to {_when(member.end)}")
    return " · ".join(escape(part) for part in parts)


# Days between one Parliament's dissolution and the next's first sitting, at most: a member
# re-elected serves on through the gap.
_ELECTION_GAP_DAYS = 62


def _served_since(member: Member) -> str:
    """When their unbroken service in this house began: the table has one row per Parliament,
    so the latest row's start alone would make an MP since 2019 one "since 5 July 2024"."""
    from datetime import date

    periods = sorted((m for m in member_periods(member.member_id) if m.house == member.house), key=lambda m: m.start)
    start = member.start
    for earlier in reversed([m for m in periods if m.start < member.start]):
        try:
            gap = (date.fromisoformat(start[:10]) - date.fromisoformat(earlier.end[:10])).days
        except ValueError:
            break
        if gap > _ELECTION_GAP_DAYS:
            break
        start = earlier.start
    return _when(start)


def _when(iso: str) -> str:
    """ "13 December 2019" from an ISO date; a bare year as it is."""
    from datetime import date

    try:
        day = date.fromisoformat(iso[:10])
    except ValueError:
        return iso[:4] if iso[:4].isdigit() else ""
    return f"{day.day} {day:%B %Y}"


def _person(role: str, name: str | None, member_id: int | None, said: str | None = None) -> str:
    """ "Answered by <a>Catherine McKinnell</a> (Labour)": the name a link to their page where
    they have an id; ``said`` is the whole of what the citation says (the name, then a role
    or party)."""
    if not name:
        return ""
    shown = escape(name)
    if member_id is not None:
        shown = f'<a class="member" href="{int(member_id)}">{shown}</a>'
    rest = said[len(name) :] if said and said.startswith(name) else ""
    return f'<p class="meta">{role} {shown}{escape(rest)}</p>'


def _entry(doc_id: str, citation: Citation, asked: bool) -> str:
    title = escape(citation.title or doc_id)
    link = safe_link(citation.source)
    heading = (
        f'<a class="title" href="{html.escape(link, quote=True)}" rel="noopener noreferrer">{title}</a>'
        if link
        else f'<p class="title">{title}</p>'
    )
    when = citation.dates
    parts = [heading, f'<p class="meta">{escape(when[:1].upper() + when[1:]) if when else "Date not recorded"}</p>']
    if asked:
        parts.append(_person("Answered by", citation.answered_by, citation.answering_member_id, citation.answerer))
    else:
        parts.append(_person("Asked by", citation.asked_by, citation.asking_member_id))
    if citation.department:
        parts.append(f'<p class="meta">{escape(citation.department)}</p>')
    if not link:
        parts.append('<p class="meta">No public page is recorded for this one.</p>')
    if citation.question:
        parts.append(f"<details><summary>Question asked</summary><p>{escape(citation.question)}</p></details>")
    return "<li>" + "".join(parts) + "</li>"


def _count(number: int, one: str, many: str) -> str:
    return f"{number:,} {one if number == 1 else many}" if number else f"no {many}"


def _section(heading: str, entries: tuple[tuple[str, Citation], ...], total: int, asked: bool) -> str:
    if not total:
        return ""
    items = "".join(_entry(doc_id, citation, asked) for doc_id, citation in entries)
    shown = f'<p class="meta">The newest {len(entries):,} of {total:,}.</p>' if len(entries) < total else ""
    return f"<h2>{heading}, newest first</h2>{shown}<ol>{items}</ol>"


def member_html(view: MemberView) -> str:
    """The member's page as HTML: everything from the corpus or the members table escaped."""
    member = lookup_member(view.member_id)
    name = escape(_name(view, member))
    asked = _count(view.asked_count, "question asked", "questions asked")
    answered = _count(view.answered_count, "answer given", "answers given")
    if view.asked_count or view.answered_count:
        lead = f"<strong>{asked.capitalize()}</strong> and <strong>{answered}</strong> about SEND in this index."
    else:
        lead = "No SEND questions asked or answers given by this member are in this index."
    more = ""
    listed = max(len(view.asked), len(view.answered))
    if listed < max(view.asked_count, view.answered_count) and listed < MAX_K:
        more = f'<p class="more"><a href="{view.member_id}?n={MAX_K}">Show up to {MAX_K}</a></p>'
    body = (
        '<nav><a class="back" href="../">&larr; Back to sendsearch</a></nav>'
        f'<main><h1>{name}</h1><p class="who">{_who(member)}</p><p>{lead}</p>'
        + _section("Questions asked", view.asked, view.asked_count, asked=True)
        + _section("Answers given", view.answered, view.answered_count, asked=False)
        + more
        + f'<p><a class="back" href="../api/members/{view.member_id}?n={MAX_K}">These as JSON</a></p>'
        + "<footer>Contains Parliamentary information licensed under the Open Parliament Licence v3.0. "
        "Members' names and parties: mySociety's UK politician data (CC-BY-4.0).</footer></main>"
    )
    return _document(f"{name}: SEND questions and answers · sendsearch", body)


def _document(title: str, body: str) -> str:
    """``title`` and ``body`` are HTML already escaped."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{_CSS}</style></head><body>{body}</body></html>"
    )


def _problem(text: str) -> str:
    return _document(
        "sendsearch",
        f'<nav><a class="back" href="../">&larr; Back to sendsearch</a></nav><main><h1>No such member here</h1>'
        f"<p>{escape(text)}</p></main>",
    )


def members_app(index: Index, *, concurrency: int = 4) -> Any:
    """The members' pages as a FastAPI app, to mount at ``/members``."""
    import anyio
    from fastapi import FastAPI, Path, Query
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse
    from starlette.requests import Request

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    limiter = anyio.CapacityLimiter(concurrency)
    headers = {"Content-Security-Policy": MEMBER_PAGE_CSP, "X-Content-Type-Options": "nosniff"}

    def page(text: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(text, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, error: RequestValidationError) -> HTMLResponse:
        return page(_problem(f"That address is not a member's page: n is a number from 1 to {MAX_K}."), 400)

    @app.get("/{member}", response_class=HTMLResponse)
    async def member_page(
        member: str = Path(max_length=MAX_FILTER_CHARS), n: int = Query(LISTED, ge=1, le=MAX_K)
    ) -> HTMLResponse:
        def make() -> HTMLResponse:
            text = member.strip()
            try:
                text.encode("utf-8")
                # An id the table does not know may still be in the records (the name as they give it).
                # Up to nine digits: a longer number is no member's id, and too big for SQLite.
                is_id = text.isascii() and text.isdigit() and len(text) <= 9
                member_id = int(text) if is_id else resolve_member(text, "member")
            except UnicodeEncodeError:
                return page(_problem("That address is not a member's page."), 400)
            except QueryError as error:
                return page(_problem(error.worded({"member": "Member"})), 404)
            view = member_view(index, member_id, n)
            if lookup_member(member_id) is None and not (view.asked_count or view.answered_count):
                return page(_problem(f"No member has the id {member_id} in this index."), 404)
            return page(member_html(view))

        try:
            return await anyio.to_thread.run_sync(make, limiter=limiter)
        except SendSearchError as error:  # a damaged index: one line, no traceback
            return page(_problem(str(error)), 503)

    return app
