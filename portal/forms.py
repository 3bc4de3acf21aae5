"""The base form of the portal: French messages from WTForms' own translations, shared filters."""
import re

from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectMultipleField
from wtforms.validators import StopValidation, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

# Control characters (PostgreSQL refuses NUL in text) and bidirectional overrides, which can
# disguise a name; joiners (ZWNJ, used in Persian names) are kept.
HIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
HIDDEN_CHARACTERS = "Ce texte contient des caractères invisibles ou de contrôle : retapez-le."
MAX_ID = 2**31 - 1  # the database's integer ids: a bigger number cannot even be looked up


class Form(FlaskForm):
    class Meta:
        locales = ("fr_FR", "fr")


class MultiCheckboxField(SelectMultipleField):
    """Several choices as a list of checkboxes (rendered as a fieldset by the field macro)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class WholeNumberField(IntegerField):
    """An integer field that, given something else than a number, says only that."""

    def pre_validate(self, form):
        typed = self.raw_data and self.raw_data[0].strip()
        if typed and self.process_errors:  # empty is left to Optional or InputRequired
            raise StopValidation()


def no_hidden_characters(form, field):
    if field.data and HIDDEN.search(field.data):
        raise ValidationError(HIDDEN_CHARACTERS)


def record_id(value) -> int:
    """A typed or posted id (a SelectField's coerce): ValueError unless it can be an id."""
    number = int(value)
    if not 0 <= number <= MAX_ID:
        raise ValueError("Identifiant hors limites.")
    return number


def strip(value):
    return value.strip() if isinstance(value, str) else value


def upper(value):
    return value.strip().upper() if isinstance(value, str) else value


def parse_euros(text: str | None, maximum_cents: int = 1_000_000, allow_negative: bool = False) -> int:
    """"5", "5,5", "5,50 €" or "5.50" → 550 cents; ValueError with a French message otherwise.
    With allow_negative, a leading minus ("-3,00", as money() writes it) gives negative cents."""
    cleaned = (text or "").replace("€", "").replace("\u00a0", "").replace(" ", "").replace(",", ".")
    sign = 1
    if allow_negative and cleaned[:1] in ("-", "\u2212"):
        sign, cleaned = -1, cleaned[1:]
        if not cleaned:
            raise ValueError("Montant non valide : écrivez par exemple 12,50.")
    if not cleaned:
        return 0
    whole, _, decimals = cleaned.partition(".")
    if not (whole or decimals) or not (whole or "0").isdigit() or (decimals and not decimals.isdigit()):
        raise ValueError("Montant non valide : écrivez par exemple 12,50.")
    if len(decimals) > 2:
        raise ValueError("Deux chiffres au plus après la virgule.")
    cents = int(whole or 0) * 100 + int((decimals + "00")[:2])
    if cents > maximum_cents:
        raise ValueError(f"Montant trop élevé (au plus {maximum_cents // 100} €).")
    return sign * cents
