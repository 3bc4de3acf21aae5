"""Finding people: folding names, prefix search on name words, code and phone, duplicates."""
import re
import unicodedata

from sqlalchemy import and_, func, or_, select

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


def search_clause(relay_id: int, query: str, phone: str | None):
    """WHERE clause for a search box: words of the names, a public code, or a phone number."""
    clauses = []
    for word in sorted(name_tokens(query))[:5]:
        clauses.append(Beneficiary.id.in_(
            select(BeneficiaryToken.beneficiary_id).where(
                BeneficiaryToken.relay_id == relay_id,
                BeneficiaryToken.token >= word,
                BeneficiaryToken.token < _prefix_upper_bound(word),
            )
        ))
    alternatives = [and_(*clauses)] if clauses else []
    # "barry" looks like a code too (B-ARRY): a code-shaped query also searches names.
    code = CODE_RE.match(query.strip().upper().replace(" ", ""))
    if code:
        alternatives.append(Beneficiary.code == f"B-{code.group(1)}")
    if phone:
        alternatives.append(Beneficiary.phone == phone)
    return or_(*alternatives) if alternatives else None


def search(relay_id: int, query: str, phone: str | None, page: int, per_page: int):
    """One page of the relay's people matching the query, and the total count."""
    base = select(Beneficiary).where(Beneficiary.relay_id == relay_id)
    clause = search_clause(relay_id, query, phone) if query.strip() else None
    if query.strip() and clause is None:
        return [], 0
    if clause is not None:
        base = base.where(clause).order_by(Beneficiary.last_key, Beneficiary.first_key, Beneficiary.id)
    else:
        base = base.order_by(Beneficiary.last_activity_at.desc(), Beneficiary.id.desc())
    total = db.session.scalar(select(func.count()).select_from(base.order_by(None).subquery()))
    rows = db.session.scalars(base.limit(per_page).offset((page - 1) * per_page)).all()
    return rows, total


def possible_duplicates(relay_id: int, first_name: str, last_name: str, phone: str | None,
                        exclude_id: int | None = None, limit: int = 5) -> list[Beneficiary]:
    """People of the relay who may be the same person: same names (either order, ignoring case,
    accents and spaces), same last name and first name starting alike, or the same phone."""
    first, last = fold(first_name or ""), fold(last_name or "")
    matches = []
    if first and last:
        matches += [
            and_(Beneficiary.first_key == first, Beneficiary.last_key == last),
            and_(Beneficiary.first_key == last, Beneficiary.last_key == first),
            and_(Beneficiary.last_key == last, Beneficiary.first_key.startswith(first[:3], autoescape=True)),
        ]
    if phone:
        matches.append(Beneficiary.phone == phone)
    if not matches:
        return []
    query = select(Beneficiary).where(
        Beneficiary.relay_id == relay_id, Beneficiary.anonymised_at.is_(None), or_(*matches)
    )
    if exclude_id:
        query = query.where(Beneficiary.id != exclude_id)
    return db.session.scalars(query.order_by(Beneficiary.id).limit(limit)).all()
