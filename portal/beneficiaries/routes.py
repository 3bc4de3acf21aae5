"""People of a relay: onboarding, search, profile, edit, eligibility, access and erasure rights."""
import json

from flask import Blueprint, Response, abort, current_app, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select

from .. import clock, htmx
from ..audit.operations import record_event
from ..certificates.operations import person_certificates
from ..extensions import db
from ..forms import record_id
from ..sales.models import Sale
from ..security import RELAY_ROLES, Role, get_scoped_or_404, no_store, roles_required
from ..workshops.queries import person_workshops
from . import documents, operations
from .forms import (ELIGIBILITY_BASES, LABELS, LANGUAGES, REFERRER_TYPES, BeneficiaryForm,
                    display_phone, parse_phone)
from .models import Beneficiary
from .queries import possible_duplicates, search

bp = Blueprint("beneficiaries", __name__, url_prefix="/beneficiaries")

bp.add_app_template_filter(display_phone, "phone")


bp.after_request(no_store)  # these pages name people


@bp.get("/")
@roles_required(*RELAY_ROLES)
def index():
    query = request.args.get("q", "").strip()[:80]
    page = max(request.args.get("page", 1, type=record_id), 1)
    per_page = current_app.config["BENEFICIARIES_PER_PAGE"]
    people, total = search(current_user.relay_id, query, parse_phone(query), page, per_page)
    pages = max((total + per_page - 1) // per_page, 1)
    return htmx.render("beneficiaries/index.html", "results", people=people, total=total,
                       query=query, page=page, pages=pages, today=clock.today(),
                       warning_days=current_app.config["ELIGIBILITY_WARNING_DAYS"])


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*RELAY_ROLES)
def new():
    # A GET with the names in its query string is the duplicate check (a page, or a fragment).
    form = BeneficiaryForm(request.args) if request.method == "GET" and request.args else BeneficiaryForm()
    if request.method == "GET" and not request.args:
        form.eligibility_verified_on.data = clock.today()
    duplicates = _duplicates(form)
    if request.method == "GET":
        return htmx.render("beneficiaries/new.html", "duplicates", form=form, duplicates=duplicates)
    valid = form.validate()
    if valid and not form.notice_given.data:
        form.notice_given.errors.append("Informez la personne de l'utilisation de ses données, puis cochez la case.")
    elif valid and duplicates and not form.confirm_duplicate.data:
        form.confirm_duplicate.errors.append("Vérifiez les fiches proches ci-dessus avant de créer une nouvelle fiche.")
    elif valid:
        person = Beneficiary()
        _apply(form, person)
        operations.create_beneficiary(person, current_user)
        flash(f"Fiche créée pour {person.full_name} — code {person.code}.", "success")
        return htmx.redirect_to(url_for("beneficiaries.show", beneficiary_id=person.id))
    return htmx.render("beneficiaries/new.html", "form", form=form, duplicates=duplicates, status=422)


@bp.get("/<int:beneficiary_id>")
@roles_required(*RELAY_ROLES)
def show(beneficiary_id: int):
    person = get_scoped_or_404(Beneficiary, beneficiary_id)
    sales = db.session.scalars(select(Sale).where(Sale.beneficiary_id == person.id).order_by(Sale.id.desc())).all()
    enrolments, marks = person_workshops(person.id)
    return htmx.render("beneficiaries/show.html", person=person, sales=sales, today=clock.today(),
                       enrolments=enrolments, marks=marks, certificates=person_certificates(person.id),
                       warning_days=current_app.config["ELIGIBILITY_WARNING_DAYS"],
                       bases=dict(ELIGIBILITY_BASES), referrers=dict(REFERRER_TYPES),
                       event_labels=documents.EVENT_LABELS)


@bp.route("/<int:beneficiary_id>/edit", methods=["GET", "POST"])
@roles_required(*RELAY_ROLES)
def edit(beneficiary_id: int):
    person = _living(beneficiary_id)
    form = BeneficiaryForm(obj=person)
    if request.method == "GET":
        form.birth_year.data = str(person.birth_year or "")
        known = [x.strip() for x in person.languages.split(",") if x.strip()]
        form.languages.data = [x for x in known if x in LANGUAGES]
        form.other_languages.data = ", ".join(x for x in known if x not in LANGUAGES)
        form.autonomy.data = [str(i) for i, answer in enumerate(person.autonomy) if answer == "1"]
        form.phone.data = person.phone or ""
    duplicates = _duplicates(form, exclude_id=person.id)
    if request.method == "POST" and form.validate():
        changed = _apply(form, person)
        operations.save_changes(person, current_user, changed)
        flash("Fiche mise à jour." if changed else "Aucune modification.", "success")
        return htmx.redirect_to(url_for("beneficiaries.show", beneficiary_id=person.id))
    status = 422 if request.method == "POST" else 200
    return htmx.render("beneficiaries/edit.html", "form", form=form, person=person,
                       duplicates=duplicates, status=status)


@bp.post("/<int:beneficiary_id>/renew")
@roles_required(*RELAY_ROLES)
def renew(beneficiary_id: int):
    person = _living(beneficiary_id)
    refusal = operations.renew_eligibility(person, current_user, clock.today())
    if refusal:
        flash(refusal, "error")
    else:
        flash(f"Éligibilité renouvelée jusqu'au {person.eligibility_until:%d/%m/%Y}.", "success")
    return htmx.redirect_to(url_for("beneficiaries.show", beneficiary_id=person.id))


@bp.get("/<int:beneficiary_id>/export.json")
@roles_required(*RELAY_ROLES)
def export_json(beneficiary_id: int):
    person = get_scoped_or_404(Beneficiary, beneficiary_id)
    data = documents.personal_data(person)
    _log_export(person, "json")
    body = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="donnees-{person.code}.json"'})


@bp.get("/<int:beneficiary_id>/export.pdf")
@roles_required(*RELAY_ROLES)
def export_pdf(beneficiary_id: int):
    from ..pdf import pdf_response

    person = get_scoped_or_404(Beneficiary, beneficiary_id)
    context = documents.export_context(person)
    _log_export(person, "pdf")
    return pdf_response("pdf/beneficiary_export.html", f"donnees-{person.code}.pdf", **context)


@bp.route("/<int:beneficiary_id>/anonymise", methods=["GET", "POST"])
@roles_required(Role.MANAGER)
def anonymise(beneficiary_id: int):
    person = _living(beneficiary_id)
    if request.method == "POST" and request.form.get("confirm") == person.code:
        operations.anonymise(person, current_user, "demande de la personne")
        flash(f"Fiche {person.code} anonymisée : nom, contact et remarques effacés.", "success")
        return htmx.redirect_to(url_for("beneficiaries.show", beneficiary_id=person.id))
    error = "Recopiez le code de la fiche pour confirmer." if request.method == "POST" else None
    return htmx.render("beneficiaries/anonymise.html", "form", person=person, error=error,
                       status=422 if error else 200)


@bp.get("/notice.pdf")
@roles_required(*RELAY_ROLES)
def notice_pdf():
    from ..pdf import pdf_response

    return pdf_response("pdf/notice.html", "notice-donnees.pdf", **documents.notice_context(current_user.relay))


@bp.get("/notice")
@roles_required(*RELAY_ROLES)
def notice():
    from ..pdf import html_twin

    return html_twin("pdf/notice.html", **documents.notice_context(current_user.relay))


def _living(beneficiary_id: int) -> Beneficiary:
    """A person of the user's relay who has not been anonymised (404 otherwise)."""
    person = get_scoped_or_404(Beneficiary, beneficiary_id)
    if person.anonymised_at:
        abort(404)
    return person


def _duplicates(form: BeneficiaryForm, exclude_id: int | None = None) -> list[Beneficiary]:
    return possible_duplicates(current_user.relay_id, form.first_name.data or "", form.last_name.data or "",
                               parse_phone(form.phone.data), exclude_id=exclude_id)


def _log_export(person: Beneficiary, fmt: str) -> None:
    operations.log(person, "exported", current_user, fmt.upper())
    record_event("beneficiary.export", subject=f"beneficiary:{person.id}", detail=fmt)
    db.session.commit()


def _apply(form: BeneficiaryForm, person: Beneficiary) -> list[str]:
    """Copy the form into the record; the French labels of what changed."""
    values = {
        "first_name": form.first_name.data, "last_name": form.last_name.data,
        "phone": parse_phone(form.phone.data), "email": form.email.data or None,
        "birth_year": int(form.birth_year.data) if form.birth_year.data else None, "languages": form.all_languages(),
        "commune": form.commune.data or "", "notes": form.notes.data or "",
        "eligibility_basis": form.eligibility_basis.data,
        "referrer_type": form.referrer_type.data if form.eligibility_basis.data == "referred" else "",
        "referrer_name": form.referrer_name.data or "",
        "need_connection": form.need_connection.data, "need_equipment": form.need_equipment.data,
        "need_skills": form.need_skills.data, "autonomy": form.autonomy_answers(),
    }
    changed = [LABELS[name] for name, value in values.items() if getattr(person, name) != value]
    for name, value in values.items():
        setattr(person, name, value)
    verified_on = form.eligibility_verified_on.data if person.eligibility_basis else None
    if verified_on != person.eligibility_verified_on:
        changed.append(LABELS["eligibility_verified_on"])
        if verified_on:
            operations.verify_eligibility(person, current_user, verified_on)
        else:
            person.eligibility_verified_on = person.eligibility_until = None
    if form.notice_given.data and not person.notice_given_on:
        person.notice_given_on = clock.today()
        person.notice_version = current_app.config["NOTICE_VERSION"]
    return sorted(set(changed))
