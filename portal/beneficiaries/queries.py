"""Finding people: folding names, prefix search on name words, code and phone, duplicates."""
import re
import unicodedata

from sqlalchemy import and_, func, select, union
from sqlalchemy.orm import aliased

from ..extensions import db
from .models import Beneficiary, BeneficiaryToken

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud and typed by hand
CODE_RE = re.compile(rf"^(?:B-?)?([{CODE_ALPHABET}]{{4,5}})$")
WORD_SPLIT = re.compile(r"[\s\-'’.,]+")


def fold(text: str) -> str:
    """Case-, accent- and space-insensitive form: "  Éléonore  d'Arc " → "eleonoredarc"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if c.isalnum())


def name_tokens(*names: str) -> set[str]:
    """The folded words of names, each at most 40 characters."""
    return {fold(word)[:40] for name in names for word in WORD_SPLIT.split(name or "") if fold(word)}


def _prefix_upper_bound(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _starts_with(column, prefix: str):
    """column LIKE 'prefix%' as a range, which an index on the column serves."""
    return and_(column >= prefix, column < _prefix_upper_bound(prefix))


def search_matches(relay_id: int, query: str, phone: str | None):
    """A SELECT of (id, last_key, first_key) of the relay's people that a search box query finds
    — by the words of their names, their public code or their phone — or None when nothing can.

    Every branch starts from an index of what was typed (search words, code, phone), so the
    cost follows the number of matches, not the size of the relay. The longest word leads (it
    usually matches fewest people) and its index carries the sort keys; the people each other
    word finds are looked up once."""
    selects = []
    words = sorted(name_tokens(query), key=lambda word: (-len(word), word))[:5]
    if words:
        lead = aliased(BeneficiaryToken)
        by_name = select(lead.beneficiary_id.label("id"), lead.last_key, lead.first_key).where(
            lead.relay_id == relay_id, _starts_with(lead.token, words[0]))
        for word in words[1:]:
            other = aliased(BeneficiaryToken)
            by_name = by_name.where(lead.beneficiary_id.in_(select(other.beneficiary_id).where(
                other.relay_id == relay_id, _starts_with(other.token, word))))
        selects.append(by_name)
    person = select(Beneficiary.id, Beneficiary.last_key, Beneficiary.first_key).where(
        Beneficiary.relay_id == relay_id)
    # "barry" looks like a code too (B-ARRY): a code-shaped query also searches names.
    code = CODE_RE.match(query.strip().upper().replace(" ", ""))
    if code:
        selects.append(person.where(Beneficiary.code == f"B-{code.group(1)}"))
    if phone:
        selects.append(person.where(Beneficiary.phone == phone))
    if not selects:
        return None
    return union(*selects) if len(selects) > 1 else selects[0].distinct()  # a person once


def search(relay_id: int, query: str, phone: str | None, page: int, per_page: int):
    """One page of the relay's people matching the query, and the total count."""
    offset = (page - 1) * per_page
    if not query.strip():
        people = select(Beneficiary).where(Beneficiary.relay_id == relay_id)
        total = db.session.scalar(select(func.count()).select_from(people.subquery()))
        people = people.order_by(Beneficiary.last_activity_at.desc(), Beneficiary.id.desc())
        return db.session.scalars(people.limit(per_page).offset(offset)).all(), total
    found = search_matches(relay_id, query, phone)
    if found is None:
        return [], 0
    found = found.subquery()
    total = db.session.scalar(select(func.count()).select_from(found))
    # The page is chosen among the matches' sort keys; only its people are then read.
    page_ids = (select(found.c.id).order_by(found.c.last_key, found.c.first_key, found.c.id)
                .limit(per_page).offset(offset))
    rows = db.session.scalars(select(Beneficiary).where(Beneficiary.id.in_(page_ids)).order_by(
        Beneficiary.last_key, Beneficiary.first_key, Beneficiary.id)).all()
    return rows, total


def possible_duplicates(relay_id: int, first_name: str, last_name: str, phone: str | None,
                        exclude_id: int | None = None, limit: int = 5) -> list[Beneficiary]:
    """People of the relay who may be the same person: same names (either order, ignoring case,
    accents and spaces), same last name and first name starting alike, or the same phone."""
    first, last = fold(first_name or ""), fold(last_name or "")
    matches = []
    if first and last:
        matches += [
            # same last name, first name starting alike (the same names included)
            and_(Beneficiary.last_key == last, _starts_with(Beneficiary.first_key, first[:3])),
            and_(Beneficiary.first_key == last, Beneficiary.last_key == first),
        ]
    if phone:
        matches.append(Beneficiary.phone == phone)
    if not matches:
        return []
    # One indexed lookup per kind of match (an OR of them would scan the relay's whole list).
    ids = union(*[select(Beneficiary.id).where(Beneficiary.relay_id == relay_id, match) for match in matches])
    query = select(Beneficiary).where(Beneficiary.id.in_(ids), Beneficiary.anonymised_at.is_(None))
    if exclude_id:
        query = query.where(Beneficiary.id != exclude_id)
    return db.session.scalars(query.order_by(Beneficiary.id).limit(limit)).all()
