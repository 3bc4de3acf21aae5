"""The closing form: amounts counted per payment method, the optional count of notes and coins,
and the reason for a difference."""
from wtforms import IntegerField, StringField, TextAreaField
from wtforms.validators import Length, Optional, StopValidation, ValidationError

from ..forms import Form, no_hidden_characters, parse_euros, strip
from ..templating import money
from .operations import COINS, DENOMINATIONS, NOTES, cash_detail_total


def denomination_label(cents: int) -> str:
    """5000 → "50 €", 50 → "0,50 €"."""
    return f"{cents // 100} €" if cents % 100 == 0 else f"{cents // 100},{cents % 100:02d} €"


def counted_euros(text: str | None) -> int:
    """An amount counted at closing, in cents. It may be negative: the day's expected amount of a
    method is net of its refunds (a void of an earlier day's sale), e.g. "-3,00"."""
    return parse_euros(text, allow_negative=True)


def euros(form, field):
    try:
        counted_euros(field.data)
    except ValueError as error:
        raise StopValidation(str(error)) from None  # the checks after it need a valid amount


def count_in_range(form, field):
    # Only a number: a text that is not one already has its message from IntegerField.
    if field.data is not None and not 0 <= field.data <= 9999:
        raise ValidationError("Un nombre entre 0 et 9999.")


def _count_field(cents: int) -> IntegerField:
    return IntegerField(denomination_label(cents), validators=[Optional(), count_in_range])


class ClosingForm(Form):
    counted_cash = StringField("Espèces comptées", filters=[strip], validators=[euros],
                               description="En euros, par exemple 152,50. Vide : le total des billets et pièces.")
    counted_card = StringField("Carte bancaire (total des tickets du terminal)", filters=[strip],
                               validators=[euros], description="Vide : 0 €.")
    counted_cheque = StringField("Chèques (total des chèques)", filters=[strip], validators=[euros],
                                 description="Vide : 0 €.")
    reason = TextAreaField("Raison de l'écart", filters=[strip], validators=[Length(max=300), no_hidden_characters],
                           description="Obligatoire quand un montant compté diffère de l'attendu.")

    def validate_counted_cash(self, field):
        detail = self.cash_detail()
        if not field.data and not detail:
            raise ValidationError("Indiquez les espèces comptées (0 s'il n'y en a pas), "
                                  "ou comptez les billets et pièces.")
        if field.data and detail and counted_euros(field.data) != cash_detail_total(detail):
            raise ValidationError(f"Les billets et pièces comptés font {money(cash_detail_total(detail))} : "
                                  "corrigez le montant ou le détail (ou videz ce champ).")

    def cash_detail(self) -> dict[int, int]:
        """The counts of notes and coins typed (valid ones only), by value in cents."""
        detail = {}
        for cents in DENOMINATIONS:
            field = self[f"n{cents}"]
            if not field.errors and isinstance(field.data, int) and field.data > 0:
                detail[cents] = field.data
        return detail

    def counted(self) -> dict[str, int]:
        """Cents counted per method (after validate()); cash comes from the detail when left empty."""
        cash = self.counted_cash.data
        return {
            "cash": counted_euros(cash) if cash else cash_detail_total(self.cash_detail()),
            "card": counted_euros(self.counted_card.data),
            "cheque": counted_euros(self.counted_cheque.data),
        }


for _cents in DENOMINATIONS:
    setattr(ClosingForm, f"n{_cents}", _count_field(_cents))
del _cents
COUNT_FIELDS = {"notes": [f"n{c}" for c in NOTES], "coins": [f"n{c}" for c in COINS]}
