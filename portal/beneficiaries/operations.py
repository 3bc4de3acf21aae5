"""Writing a person's record: create, update with a trail, renew eligibility, anonymise, retention."""
import secrets
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import delete, select

from ..audit.operations import record_event
from ..clock import utcnow
from ..extensions import db
from ..reports.operations import count_onboarding
from .models import Beneficiary, BeneficiaryEvent, BeneficiaryToken
from .queries import CODE_ALPHABET, fold, name_tokens


def add_months(day: date, months: int) -> date:
    """Same day `months` later (the last day of the month when it does not exist)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=candidate)
        except ValueError:
            continue
    raise ValueError(day)


def new_code() -> str:
    """A short public code not used yet, e.g. B-7KQ3 (five characters once four get crowded)."""
    for attempt in range(20):
        length = 4 if attempt < 10 else 5
        code = "B-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))
        if db.session.scalar(select(Beneficiary.id).where(Beneficiary.code == code)) is None:
            return code
    raise RuntimeError("no free beneficiary code")


def _index_names(person: Beneficiary) -> None:
    """Keep the folded keys and the search words in step with the names."""
    person.first_key, person.last_key = fold(person.first_name)[:80], fold(person.last_name)[:80]
    db.session.execute(delete(BeneficiaryToken).where(BeneficiaryToken.beneficiary_id == person.id))
    for token in name_tokens(person.first_name, person.last_name):
        db.session.add(BeneficiaryToken(beneficiary_id=person.id, token=token, relay_id=person.relay_id,
                                        last_key=person.last_key, first_key=person.first_key))


def verify_eligibility(person: Beneficiary, user, on: date) -> None:
    """Record that `user` checked the person's eligibility on `on` (a full check: renewals start over)."""
    person.eligibility_verified_by_id = user.id if user else None
    person.eligibility_verified_on = on
    person.eligibility_until = add_months(on, current_app.config["ELIGIBILITY_MONTHS"])
    person.eligibility_renewals = 0


def log(person: Beneficiary, kind: str, user, detail: str = "") -> None:
    db.session.add(BeneficiaryEvent(beneficiary=person, kind=kind, user_id=user.id if user else None,
                                    detail=detail[:300]))


def create_beneficiary(person: Beneficiary, user, relay_id: int | None = None) -> Beneficiary:
    """Insert a new person of the user's relay (or `relay_id`) with a fresh public code."""
    person.relay_id = relay_id or user.relay_id
    person.code = new_code()
    person.created_by_id = user.id if user else None
    person.last_activity_at = utcnow()
    db.session.add(person)
    db.session.flush()
    _index_names(person)
    log(person, "created", user)
    count_onboarding(person)
    db.session.commit()
    return person


def save_changes(person: Beneficiary, user, changed_labels: list[str]) -> None:
    """Commit an edit, keeping who changed which fields (not their values)."""
    if not changed_labels:
        return
    _index_names(person)
    person.last_activity_at = utcnow()
    log(person, "updated", user, ", ".join(changed_labels))
    db.session.commit()


def renew_eligibility(person: Beneficiary, user, today: date) -> str | None:
    """Extend eligibility from today on the same basis; the reason it is refused, or None."""
    if not person.eligibility_basis or not person.eligibility_until:
        return "Aucune éligibilité à renouveler : vérifiez-la d'abord dans la fiche."
    if person.eligibility_renewals >= current_app.config["ELIGIBILITY_MAX_RENEWALS"]:
        return ("Nombre maximal de renouvellements atteint : vérifiez à nouveau la situation "
                "de la personne et enregistrez-la dans la fiche.")
    start = max(today, person.eligibility_until)
    person.eligibility_until = add_months(start, current_app.config["ELIGIBILITY_MONTHS"])
    person.eligibility_renewals += 1
    person.eligibility_verified_by_id, person.eligibility_verified_on = user.id, today
    person.last_activity_at = utcnow()
    log(person, "renewed", user, f"jusqu'au {person.eligibility_until:%d/%m/%Y}")
    db.session.commit()
    return None


def anonymise(person: Beneficiary, user=None, reason: str = "demande") -> None:
    """Irreversibly remove name, contact and free text; keep the code and what statistics need."""
    person.first_name, person.last_name = "Personne", "anonymisée"
    person.first_key = person.last_key = ""
    person.phone = person.email = None
    person.birth_year = person.birth_year // 10 * 10 if person.birth_year else None  # decade only
    person.notes = person.referrer_name = ""
    person.anonymised_at = utcnow()
    db.session.execute(delete(BeneficiaryToken).where(BeneficiaryToken.beneficiary_id == person.id))
    log(person, "anonymised", user, reason)
    record_event("beneficiary.anonymise", subject=f"beneficiary:{person.id}", detail=reason, actor=user)
    db.session.commit()


def stale_beneficiaries(months: int) -> list[Beneficiary]:
    """People not yet anonymised whose last activity is older than `months` months."""
    cutoff = utcnow() - timedelta(days=round(months * 30.44))
    return db.session.scalars(
        select(Beneficiary).where(Beneficiary.anonymised_at.is_(None), Beneficiary.last_activity_at < cutoff)
        .order_by(Beneficiary.relay_id, Beneficiary.last_activity_at)
    ).all()


def touch(person: Beneficiary) -> None:
    """Mark activity (a sale, an attendance…): it postpones anonymisation for retention."""
    person.last_activity_at = utcnow()
