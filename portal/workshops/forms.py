"""Forms of the workshops: a parcours, a session (its duration typed "90" or "1 h 30"), and the
minimal record of a person enrolled on the spot."""
import re
from datetime import time, timedelta

from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from .. import clock
from ..beneficiaries.forms import has_a_letter, text, valid_phone
from ..forms import Form, MultiCheckboxField, WholeNumberField, no_hidden_characters, strip
from .models import LEVELS, THEMES

MIN_DURATION, MAX_DURATION = 15, 8 * 60
MAX_CAPACITY = 50
DURATION = re.compile(r"^(?:(?P<h>\d{1,2})\s*h\s*(?P<m>\d{1,2})?|(?P<only>\d{1,3})\s*(?:min|mn)?)$", re.IGNORECASE)


def parse_duration(typed: str | None) -> int:
    """"90", "90 min", "1 h 30", "1h30" or "2 h" → minutes; ValueError with a French message otherwise."""
    match = DURATION.match((typed or "").strip())
    if not match:
        raise ValueError("Durée non valide : écrivez par exemple 90 ou 1 h 30.")
    if match["only"]:
        minutes = int(match["only"])
    else:
        if match["m"] and int(match["m"]) > 59:
            raise ValueError("Durée non valide : 59 minutes au plus après les heures (ex. 1 h 45).")
        minutes = int(match["h"]) * 60 + int(match["m"] or 0)
    if not MIN_DURATION <= minutes <= MAX_DURATION:
        raise ValueError("La durée doit être comprise entre 15 minutes et 8 heures.")
    return minutes


def format_duration(minutes: int | None) -> str:
    """90 → "1 h 30", 120 → "2 h", 45 → "45 min"."""
    if not minutes:
        return "0 h"
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest:02d}" if rest else f"{hours} h"


def format_clock(moment: time | None) -> str:
    """14:00 → "14 h 00", as French documents write a time."""
    return f"{moment.hour} h {moment.minute:02d}" if moment else ""


class DurationField(StringField):
    """A duration typed in minutes or hours, held in minutes (`data` is an int or None)."""

    def process_formdata(self, valuelist):
        self.data = None
        if valuelist and valuelist[0].strip():
            self.data = parse_duration(valuelist[0])

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return format_duration(self.data) if self.data else ""


def plausible_day(form, field):
    # Entered afterwards or planned ahead, but not a typing slip in the year.
    if field.data and not clock.today() - timedelta(days=366) <= field.data <= clock.today() + timedelta(days=731):
        raise ValidationError("Date non plausible : au plus un an avant ou deux ans après aujourd'hui.")


class ParcoursForm(Form):
    title = text("Titre", 120, "Saisissez le titre du parcours.")
    description = TextAreaField("Description (facultatif)", filters=[strip], validators=[
        Optional(), Length(max=1000, message="1000 caractères au plus."), no_hidden_characters])
    level = SelectField("Niveau", choices=list(LEVELS.items()))
    themes = MultiCheckboxField("Thèmes", choices=list(THEMES.items()), validate_choice=True,
                                validators=[DataRequired("Choisissez au moins un thème.")])
    planned_sessions = WholeNumberField(
        "Nombre de séances prévues", validators=[
            InputRequired("Indiquez le nombre de séances prévues."),
            NumberRange(1, 50, "Entre 1 et 50 séances.")],
        render_kw={"inputmode": "numeric", "size": 4})
    active = BooleanField("Parcours en cours (les parcours terminés restent consultables)", default=True)


class SessionForm(Form):
    day = DateField("Date", validators=[InputRequired("Saisissez la date."), plausible_day])
    start_time = TimeField("Heure de début", format=["%H:%M", "%Hh%M", "%H h %M", "%Hh"],
                           validators=[InputRequired("Saisissez l'heure de début (ex. 14:00).")])
    duration = DurationField("Durée", description="En minutes (90) ou en heures (1 h 30).",
                             validators=[InputRequired("Saisissez la durée (ex. 1 h 30).")],
                             render_kw={"size": 8})
    commune = text("Commune", 80, "Saisissez la commune.")
    venue = text("Lieu", 120, "Saisissez le lieu.",
                 description="Ex. : salle des fêtes, médiathèque, locaux de la structure.")
    host_relay_id = SelectField("Pour les personnes de", coerce=int, validate_choice=True)
    facilitator_id = SelectField("Animé par", coerce=int, validate_choice=True)
    capacity = WholeNumberField(
        "Places", validators=[InputRequired("Indiquez le nombre de places."),
                              NumberRange(1, MAX_CAPACITY, f"Entre 1 et {MAX_CAPACITY} places.")],
        render_kw={"inputmode": "numeric", "size": 4})
    laptops_planned = WholeNumberField(
        "Ordinateurs portables à prêter", description="0 si les personnes viennent avec leur appareil.",
        validators=[Optional(), NumberRange(0, MAX_CAPACITY, f"Entre 0 et {MAX_CAPACITY}.")],
        render_kw={"inputmode": "numeric", "size": 4})
    notes = TextAreaField("Remarques (facultatif)", filters=[strip], validators=[
        Optional(), Length(max=500, message="500 caractères au plus."), no_hidden_characters])

    def validate_laptops_planned(self, field):
        if field.data and isinstance(self.capacity.data, int) and field.data > self.capacity.data:
            raise ValidationError("Pas plus d'ordinateurs que de places.")


class QuickPersonForm(Form):
    """The minimal record of a person enrolled on the spot (the rest can be completed later)."""

    first_name = text("Prénom", 80, "Saisissez le prénom.", extra=[has_a_letter])
    last_name = text("Nom ou pseudonyme", 80, "Saisissez le nom, ou un pseudonyme si la personne le préfère.",
                     extra=[has_a_letter])
    phone = text("Téléphone (facultatif)", 30, extra=[valid_phone],
                 render_kw={"type": "tel", "autocomplete": "off"})
    notice_given = BooleanField("La personne a été informée de l'utilisation de ses données (notice remise ou lue)")
    confirm_duplicate = BooleanField("C'est bien une autre personne : créer la fiche quand même")

    def validate_notice_given(self, field):
        if not field.data:
            raise ValidationError("Informez la personne de l'utilisation de ses données, puis cochez la case.")
