"""Attendance certificates: issue and print them, and the public page that verifies one."""
from datetime import date

from flask import Blueprint, abort, flash, request, url_for
from flask_login import current_user

from .. import htmx
from ..errors import Refused
from ..security import RELAY_ROLES, get_scoped_or_404, no_store, roles_required
from ..workshops.forms import format_duration
from ..workshops.models import Parcours
from . import documents, operations
from .models import Certificate

bp = Blueprint("certificates", __name__)


@bp.after_request
def _private(response):
    # Certificates name people; a verification page is nobody's business but its reader's.
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return no_store(response)


@bp.post("/workshops/parcours/<int:parcours_id>/certificates")
@roles_required(*RELAY_ROLES)
def issue_group(parcours_id: int):
    parcours = get_scoped_or_404(Parcours, parcours_id)
    try:
        operations.issue_group(parcours, current_user)
    except Refused as refusal:
        flash(refusal.message, "error")
        return htmx.redirect_to(url_for("workshops.parcours", parcours_id=parcours.id, _anchor="enrolment"))
    return htmx.redirect_to(url_for("certificates.group_pdf", parcours_id=parcours.id))


@bp.get("/workshops/parcours/<int:parcours_id>/certificates.pdf")
@roles_required(*RELAY_ROLES)
def group_pdf(parcours_id: int):
    parcours = get_scoped_or_404(Parcours, parcours_id)
    certificates = operations.printable_group(parcours)
    if not certificates:
        abort(404)
    return _printed(certificates, f"attestations-parcours-{parcours.id}.pdf")


@bp.post("/workshops/parcours/<int:parcours_id>/certificates/<int:beneficiary_id>")
@roles_required(*RELAY_ROLES)
def issue(parcours_id: int, beneficiary_id: int):
    parcours = get_scoped_or_404(Parcours, parcours_id)
    person = operations.enrolled_person(parcours, beneficiary_id)
    if person is None:
        abort(404)
    try:
        certificate = operations.issue_certificate(parcours, person, current_user)
    except Refused as refusal:
        return htmx.render("certificates/refused.html", parcours=parcours, message=refusal.message, status=422)
    return htmx.redirect_to(url_for("certificates.pdf", certificate_id=certificate.id))


@bp.get("/certificates/<int:certificate_id>.pdf")
@roles_required(*RELAY_ROLES)
def pdf(certificate_id: int):
    certificate = _printable(certificate_id)
    return _printed([certificate], f"attestation-{certificate.number}.pdf")


@bp.get("/certificates/<int:certificate_id>")
@roles_required(*RELAY_ROLES)
def twin(certificate_id: int):
    from ..pdf import html_twin

    certificate = _printable(certificate_id)
    return html_twin(documents.TEMPLATE, **documents.certificates_context([certificate]))


@bp.get("/verify")
def verify():
    typed = request.args.get("code")
    if typed is None:
        return htmx.render("certificates/verify.html", code="", error=None)
    code = operations.normalise_code(typed)
    if not code:
        return htmx.render("certificates/verify.html", code=typed[:40], status=422,
                           error="Saisissez le code imprimé sur l'attestation (10 lettres et chiffres).")
    return htmx.redirect_to(url_for("certificates.verify_code", code=code))


@bp.get("/verify/<code>")
def verify_code(code: str):
    certificate = operations.find_by_code(code)
    if certificate is None:
        return htmx.render("certificates/verify.html", code=code[:40], error=None, not_found=True, status=404)
    # Only what proves the certificate without telling who the person is.
    facts = certificate.facts
    return htmx.render("certificates/verified.html", initials=certificate.initials, title=facts["parcours"]["title"],
                       total=format_duration(certificate.minutes), issued_on=date.fromisoformat(facts["issued_on"]))


def _printable(certificate_id: int) -> Certificate:
    """A certificate the user's relay may print: 404 once the person is anonymised (their name is gone)."""
    certificate = get_scoped_or_404(Certificate, certificate_id)
    if certificate.beneficiary.anonymised_at:
        abort(404)
    return certificate


def _printed(certificates: list[Certificate], filename: str):
    """The PDF; each print is counted once it is rendered."""
    from ..pdf import pdf_response

    response = pdf_response(documents.TEMPLATE, filename, **documents.certificates_context(certificates))
    operations.record_prints(certificates, current_user)
    return response
