"""Which government department answers a written question.

Two thirds of the records have no ``answeringBodyName``, but every question names the
minister it is addressed to ("To ask the Secretary of State for Education, ..."). The table
below maps those offices to the department names the API uses; it was checked against the
15,697 records of the full collection that carry both.
"""

from __future__ import annotations

import re

__all__ = ["canonical_department", "department_from_question"]

_OFFICES: list[tuple[str, str]] = [
    (r"health and social care", "Department of Health and Social Care"),
    (r"levelling up", "Department for Levelling Up, Housing and Communities"),
    (r"housing", "Ministry of Housing, Communities and Local Government"),
    (r"home (department|office)", "Home Office"),
    (r"foreign|deputy foreign secretary", "Foreign, Commonwealth and Development Office"),
    (r"environment", "Department for Environment, Food and Rural Affairs"),
    (r"defence", "Ministry of Defence"),
    (r"transport", "Department for Transport"),
    (r"secretary of state for education", "Department for Education"),
    (r"chancellor (of|for|the)", "Treasury"),
    (r"work and pensions", "Department for Work and Pensions"),
    (r"cabinet office", "Cabinet Office"),
    (r"energy", "Department for Energy Security and Net Zero"),
    (r"science", "Department for Science, Innovation and Technology"),
    (r"business", "Department for Business and Trade"),
    (r"justice", "Ministry of Justice"),
    (r"culture", "Department for Culture, Media and Sport"),
    (r"women and equalities", "Women and Equalities"),
    (r"northern ireland", "Northern Ireland Office"),
    (r"secretary of state for scotland", "Scotland Office"),
    (r"secretary of state for wales", "Wales Office"),
    (r"(attorney|solicitor) general", "Attorney General"),
    (r"leader of the house", "Leader of the House"),
]
_COMPILED = [(re.compile(pattern), name) for pattern, name in _OFFICES]
# The addressee runs from "To ask the" to the first word that starts the question proper.
_ADDRESSEE = re.compile(
    r"^\W*t?o\s+(?:ask\s+)?(?:the\s+)?(.{0,160}?)[,\s]+(?:what|if|whether|how|when|pursuant|with|for what)\b",
    re.I,
)
# Commissions and committees answer through a member "representing the ... Commission".
_REPRESENTING = re.compile(r"representing\s+the\s+(.+?)\s*$", re.I)


def department_from_question(question: str | None) -> str | None:
    """The department a question is addressed to, read from its opening words."""
    if not question:
        return None
    match = _ADDRESSEE.match(question)
    # Without a recognisable first question word, the office is still in the opening words.
    addressee = (match.group(1) if match else question[:100]).strip(" ,")
    # The office before the first comma is the surest guide; a comma can also separate
    # "Minister of State, Foreign, Commonwealth ..." so fall back to the whole addressee.
    for part in (addressee.split(",")[0], addressee):
        for pattern, name in _COMPILED:
            if pattern.search(part.lower()):
                return name
    representing = _REPRESENTING.search(addressee)
    return representing.group(1) if representing else None


def canonical_department(name: str | None) -> str | None:
    """Tidy a department name as written on a page ("the Department for Education")."""
    if not name:
        return None
    name = re.sub(r"^the\s+", "", name.strip().rstrip(":."), flags=re.I)
    return name or None
