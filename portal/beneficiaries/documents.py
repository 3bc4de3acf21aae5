"""Plain-data contexts for a person's documents: the data export and the information notice."""
from datetime import date

from flask import current_app

from .. import clock
from ..certificates.operations import person_certificates
from ..templating import local_date, local_datetime
from ..workshops.forms import format_duration
from ..workshops.queries import person_workshops
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
    } | _workshops_data(person)


def _workshops_data(person: Beneficiary) -> dict:
    """The person's workshops: parcours, attendance marks, certificates."""
    enrolments, marks = person_workshops(person.id)
    return {
        "ateliers": [{"parcours": e.parcours.title, "inscription le": e.enrolled_at, "séances suivies": attended,
                      "durée suivie": format_duration(minutes)} for e, attended, minutes in enrolments],
        "présences": [{"date": m.session.day, "parcours": m.session.parcours.title, "commune": m.session.commune,
                       "présence": m.status_label} for m in marks],
        "attestations": [{"numéro": c.number, "parcours": c.parcours.title, "séances": c.sessions_count,
                          "durée": format_duration(c.minutes), "délivrée le": c.issued_at,
                          "code de vérification": c.code} for c in person_certificates(person.id)],
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
    workshops = [data.pop(name) for name in ("ateliers", "présences", "attestations")]
    return {
        "title": f"Vos données — fiche {person.code}",
        "relay": _relay(person.relay),
        "person_name": person.full_name,
        "code": person.code,
        "sections": [_section("Identité et contact", data), _section("Éligibilité", eligibility),
                     _section("Autonomie numérique", autonomy), _workshops_section(*workshops)],
        "history": [{"date": _printable(h["date"]), "action": h["action"], "detail": h["détail"]}
                    for h in history],
        "issued_on": local_date(clock.today(), "d MMMM y"),
    }


def _workshops_section(parcours: list[dict], marks: list[dict], certificates: list[dict]) -> dict:
    rows = [(p["parcours"], f"inscription le {_printable(p['inscription le'])}, {p['séances suivies']} séance(s) "
             f"suivie(s), {p['durée suivie']}") for p in parcours]
    rows += [(_printable(m["date"]), f"{m['parcours']}, {m['commune']} : {m['présence'].lower()}") for m in marks]
    rows += [(f"Attestation {c['numéro']}", f"{c['parcours']}, {c['durée']}, délivrée le {_printable(c['délivrée le'])}, "
              f"code {c['code de vérification']}") for c in certificates]
    return {"title": "Ateliers", "rows": rows or [("Ateliers", "aucun")]}


def notice_context(relay) -> dict:
    """The information notice given to each person, for the user's relay."""
    return {
        "relay": _relay(relay),
        "retention_months": current_app.config["RETENTION_MONTHS"],
        "notice_version": current_app.config["NOTICE_VERSION"],
    }
