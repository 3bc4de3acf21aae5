"""Forms of the laptop fleet: a laptop's record (coordinators), a booking, a return."""
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..beneficiaries.forms import text
from ..forms import Form, MultiCheckboxField, no_hidden_characters, record_id, strip, upper
from .models import LAPTOP_STATES

# The states a coordinator sets by hand: "loaned" follows the hand-out and the return.
STATES_BY_HAND = ("available", "repair", "retired")
TAG_TAKEN = "Ce numéro est déjà celui d'un autre ordinateur du parc."
RESET_REQUIRED = ("Effacez les données personnelles (réinitialisation) avant le prochain prêt, puis cochez "
                  "la case ; sinon cochez « À réparer ».")


class LaptopForm(Form):
    tag = StringField("Numéro", filters=[upper], description="Le numéro collé sur le capot (ex. PC-01).",
                      validators=[DataRequired("Saisissez le numéro collé sur l'ordinateur."),
                                  Length(max=20, message="20 caractères au plus."), no_hidden_characters],
                      render_kw={"size": 12})
    model = text("Modèle", 80, "Saisissez le modèle (ex. Lenovo ThinkPad T480).")
    serial = text("Numéro de série (facultatif)", 60)
    state = SelectField("État", choices=[(code, LAPTOP_STATES[code]) for code in STATES_BY_HAND])
    notes = TextAreaField("Remarques (facultatif)", filters=[strip], validators=[
        Optional(), Length(max=300, message="300 caractères au plus."), no_hidden_characters])


class BookForm(Form):
    # Any id is taken: the booking itself says why a laptop cannot be booked.
    laptop_id = MultiCheckboxField("Ordinateurs libres sur ce créneau", coerce=record_id, validate_choice=False,
                                   validators=[DataRequired("Cochez au moins un ordinateur à réserver.")])


class ReturnForm(Form):
    """The return of one laptop of a session: one such form per row, its fields' ids carry the laptop's id."""

    reset_done = BooleanField("Réinitialisé (données personnelles effacées)")
    damage = StringField("Dégâts constatés", filters=[strip], validators=[
        Optional(), Length(max=300, message="300 caractères au plus."), no_hidden_characters])
    needs_repair = BooleanField("À réparer")

    class Meta:
        row = "return"

        def bind_field(self, form, unbound_field, options):
            # Plain names (reset_done…), ids unique on a page of several rows (l12-reset_done).
            return unbound_field.bind(form=form, id=f"{self.row}-{options['name']}", **options)

    def __init__(self, laptop_id: int, **kwargs):
        self.laptop_id = laptop_id
        super().__init__(meta={"row": f"l{laptop_id}"}, **kwargs)

    def validate_reset_done(self, field):
        if not field.data and not self.needs_repair.data:
            raise ValidationError(RESET_REQUIRED)
