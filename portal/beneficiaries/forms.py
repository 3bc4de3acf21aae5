"""The onboarding and edit form of a person, with French messages next to each field."""
import re

import phonenumbers
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from .. import clock
from ..forms import Form, MultiCheckboxField, no_hidden_characters, strip

ELIGIBILITY_BASES = [
    ("", "Pas encore vérifiée"),
    ("referred", "Orientée par un·e travailleur·se social·e ou une structure"),
    ("asylum", "Demandeur·se d'asile ou réfugié·e"),
    ("minimum_benefits", "Bénéficiaire de minima sociaux (RSA, ASS, AAH…)"),
    ("other", "Autre situation de précarité"),
]
REFERRER_TYPES = [
    ("", "—"), ("ccas", "CCAS"), ("cada", "CADA"), ("france_travail", "France Travail"),
    ("mission_locale", "Mission locale"), ("association", "Association"), ("other", "Autre"),
]
LANGUAGES = ["français", "anglais", "arabe", "dari", "pachto", "tigrinya", "amharique",
             "ukrainien", "russe", "peul", "soussou", "espagnol", "turc", "albanais"]
AUTONOMY_QUESTIONS = [
    "Appelle et envoie des messages seul·e avec un téléphone",
    "Cherche une information sur internet seul·e",
    "Fait une démarche en ligne seul·e (CAF, France Travail, préfecture…)",
]
LABELS = {
    "first_name": "prénom", "last_name": "nom", "phone": "téléphone", "email": "e-mail",
    "birth_year": "année de naissance", "languages": "langues", "commune": "commune",
    "notes": "remarques", "eligibility_basis": "éligibilité", "referrer_type": "orienteur",
    "referrer_name": "orienteur", "eligibility_verified_on": "vérification", "need_connection": "besoins",
    "need_equipment": "besoins", "need_skills": "besoins", "autonomy": "autonomie",
}


def parse_phone(text: str | None) -> str | None:
    """A phone number in E.164 (French numbers by default), or None when it is not one."""
    if not text or not re.search(r"\d", text):
        return None
    try:
        number = phonenumbers.parse(text, "FR")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display_phone(e164: str | None) -> str:
    """+33612345678 → "06 12 34 56 78"; foreign numbers in international format."""
    if not e164:
        return ""
    number = phonenumbers.parse(e164)
    style = (phonenumbers.PhoneNumberFormat.NATIONAL if number.country_code == 33
             else phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return phonenumbers.format_number(number, style)


def has_a_letter(form, field):
    if field.data and not any(c.isalpha() for c in field.data):
        raise ValidationError("Saisissez au moins une lettre.")


def valid_phone(form, field):
    if field.data and parse_phone(field.data) is None:
        raise ValidationError("Numéro de téléphone non valide (ex. 06 12 34 56 78 ou +380 67 123 4567).")


def plausible_birth_year(form, field):
    if not field.data:
        return
    this_year = clock.today().year
    if not field.data.isdigit():
        raise ValidationError("Saisissez l'année en chiffres, par exemple 1987.")
    if not this_year - 110 <= int(field.data) <= this_year - 10:
        raise ValidationError(f"Année non plausible : entre {this_year - 110} et {this_year - 10}.")


def not_in_future(form, field):
    if field.data and field.data > clock.today():
        raise ValidationError("La date ne peut pas être dans le futur.")


def text(label, max_length, required=None, **kwargs):
    validators = [DataRequired(required)] if required else [Optional()]
    validators += [Length(max=max_length, message=f"{max_length} caractères au plus."), no_hidden_characters]
    return StringField(label, filters=[strip], validators=validators + kwargs.pop("extra", []), **kwargs)


class BeneficiaryForm(Form):
    first_name = text("Prénom", 80, "Saisissez le prénom.", extra=[has_a_letter])
    last_name = text("Nom ou pseudonyme", 80, "Saisissez le nom, ou un pseudonyme si la personne le préfère.",
                     extra=[has_a_letter])
    phone = text("Téléphone (facultatif)", 30, extra=[valid_phone],
                 render_kw={"type": "tel", "autocomplete": "off"})
    email = StringField("E-mail (facultatif)", filters=[strip], validators=[
        Optional(), Length(max=254, message="254 caractères au plus."),
        Email("Adresse e-mail non valide.", check_deliverability=False)],
        render_kw={"type": "email", "autocomplete": "off"})
    birth_year = StringField("Année de naissance (facultatif)", filters=[strip],
                             validators=[Optional(), plausible_birth_year],
                             render_kw={"inputmode": "numeric", "maxlength": 4, "size": 6})
    languages = MultiCheckboxField("Langues parlées", choices=[(x, x) for x in LANGUAGES], validate_choice=True)
    other_languages = text("Autres langues", 80, description="Séparées par des virgules.")
    commune = text("Commune de résidence (facultatif)", 80)

    eligibility_basis = SelectField("Situation ouvrant droit aux tarifs solidaires", choices=ELIGIBILITY_BASES)
    referrer_type = SelectField("Orientée par", choices=REFERRER_TYPES)
    referrer_name = text("Nom de la structure ou du·de la référent·e (facultatif)", 120)
    eligibility_verified_on = DateField("Date de la vérification", validators=[Optional(), not_in_future],
                                        description="Ne gardez aucune copie ni numéro de pièce d'identité.")

    need_connection = BooleanField("Connexion (carte SIM, recharge, forfait)")
    need_equipment = BooleanField("Équipement (téléphone, ordinateur)")
    need_skills = BooleanField("Compétences numériques (ateliers)")
    autonomy = MultiCheckboxField("Autonomie numérique : la personne…",
                                  choices=[(str(i), q) for i, q in enumerate(AUTONOMY_QUESTIONS)])

    notes = TextAreaField("Remarques (facultatif)", filters=[strip], validators=[
        Optional(), Length(max=500, message="500 caractères au plus."), no_hidden_characters],
        description="Rien de médical, judiciaire ou religieux : seulement ce qui aide à l'accompagner.")
    notice_given = BooleanField("La personne a été informée de l'utilisation de ses données (notice remise ou lue)")
    confirm_duplicate = BooleanField("C'est bien une autre personne : créer la fiche quand même")

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.eligibility_basis.data and not self.eligibility_verified_on.data and not self.eligibility_verified_on.errors:
            self.eligibility_verified_on.errors.append("Indiquez la date de la vérification.")
            valid = False
        if self.eligibility_basis.data == "referred" and not self.referrer_type.data:
            self.referrer_type.errors.append("Indiquez qui a orienté la personne.")
            valid = False
        if self.other_languages.data and len(self.all_languages()) > 200:
            self.other_languages.errors.append("Liste de langues trop longue.")
            valid = False
        return valid

    def all_languages(self) -> str:
        extra = [x.strip() for x in (self.other_languages.data or "").split(",") if x.strip()]
        return ", ".join(list(self.languages.data or []) + extra)

    def autonomy_answers(self) -> str:
        chosen = set(self.autonomy.data or [])
        return "".join("1" if str(i) in chosen else "0" for i in range(len(AUTONOMY_QUESTIONS)))
