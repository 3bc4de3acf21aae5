"""Plain-data contexts for a person's documents: the data export and the information notice."""
from datetime import date

from flask import current_app

from ..templating import local_date, local_datetime
from .forms import AUTONOMY_QUESTIONS, ELIGIBILITY_BASES, REFERRER_TYPES
from .models import Beneficiary

EVENT_LABELS = {
    "created": "Fiche créée", "updated": "Fiche modifiée", "renewed": "Éligibilité renouvelée",
    "exported": "Données exportées", "anonymised": "Fiche anonymisée",
}


def _relay(relay) -> dict:
    return {"name": relay.name, "address": relay.address, "town": relay.town}


def personal_data(person: Beneficiary) -> dict:
    """Everything the portal holds about one person, in plain values (right of access)."""
    return {
        "code": person.code,
        "structure": person.relay.name,
        "prénom": person.first_name,
        "nom": person.last_name,
        "téléphone": person.phone,
        "e-mail": person.email,
        "année de naissance": person.birth_year,
        "langues": person.languages,
        "commune": person.commune,
        "remarques": person.notes,
        "éligibilité": {
            "situation": dict(ELIGIBILITY_BASES).get(person.eligibility_basis, ""),
            "orientée par": dict(REFERRER_TYPES).get(person.referrer_type, "") if person.referrer_type else "",
            "structure ou référent·e": person.referrer_name,
            "vérifiée le": person.eligibility_verified_on,
            "vérifiée par": person.verified_by.display_name if person.verified_by else None,
            "valable jusqu'au": person.eligibility_until,
            "renouvellements": person.eligibility_renewals,
        },
        "besoins": [label for flag, label in (
            (person.need_connection, "connexion"), (person.need_equipment, "équipement"),
            (person.need_skills, "compétences numériques")) if flag],
        "autonomie numérique": {
            "niveau (1 à 4)": person.autonomy_level,
            "réponses": {q: a == "1" for q, a in zip(AUTONOMY_QUESTIONS, person.autonomy)},
        },
        "information donnée le": person.notice_given_on,
        "version de la notice": person.notice_version,
        "fiche créée le": person.created_at,
        "dernière activité": person.last_activity_at,
        "historique": [
            {"date": e.at, "action": EVENT_LABELS.get(e.kind, e.kind), "détail": e.detail}
            for e in person.events
        ],
    }


def _printable(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, date) and not hasattr(value, "hour"):
        return local_date(value, "dd/MM/y")
    if hasattr(value, "hour"):
        return local_datetime(value, "dd/MM/y HH:mm")
    if isinstance(value, list):
        return ", ".join(_printable(v) for v in value) or "—"
    return str(value)


def _section(title: str, part: dict) -> dict:
    rows = []
    for label, value in part.items():
        if isinstance(value, dict):
            rows += [(k, _printable(v)) for k, v in value.items()]
        else:
            rows.append((label, _printable(value)))
    return {"title": title, "rows": rows}


def export_context(person: Beneficiary) -> dict:
    """The PDF export: sections of (label, text) rows, plain strings only."""
    data = personal_data(person)
    eligibility, autonomy = data.pop("éligibilité"), data.pop("autonomie numérique")
    history = data.pop("historique")
    return {
        "title": f"Vos données — fiche {person.code}",
        "relay": _relay(person.relay),
        "person_name": person.full_name,
        "code": person.code,
        "sections": [_section("Identité et contact", data), _section("Éligibilité", eligibility),
                     _section("Autonomie numérique", autonomy)],
        "history": [{"date": _printable(h["date"]), "action": h["action"], "detail": h["détail"]}
                    for h in history],
        "issued_on": local_date(date.today(), "d MMMM y"),
    }


def notice_context(relay) -> dict:
    """The information notice given to each person, for the user's relay."""
    return {
        "relay": _relay(relay),
        "retention_months": current_app.config["RETENTION_MONTHS"],
        "notice_version": current_app.config["NOTICE_VERSION"],
    }
