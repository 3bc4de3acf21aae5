"""The till's forms: opening a session (its float), a bank deposit, and the closing (amounts
counted per payment method, the optional count of notes and coins, the reason for a difference)."""
from wtforms import IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, StopValidation, ValidationError

from .. import payments
from ..forms import Form, no_hidden_characters, parse_euros, strip
from ..templating import money
from .operations import COINS, DENOMINATIONS, NOTES, SLIP_LENGTH, cash_detail_total

# What to count for each method, when the method's name alone does not say it.
COUNT_HINTS = {"cash": "Espèces comptées", "card": "Carte bancaire (total des tickets du terminal)",
               "cheque": "Chèques (total des chèques)", "voucher": "Prises en charge (total des bons)"}


def denomination_label(cents: int) -> str:
    """5000 → "50 €", 50 → "0,50 €"."""
    return f"{cents // 100} €" if cents % 100 == 0 else f"{cents // 100},{cents % 100:02d} €"


def counted_euros(text: str | None) -> int:
    """An amount counted at closing, in cents. It may be negative: a method's expected amount is
    net of its refunds, e.g. "-3,00"."""
    return parse_euros(text, allow_negative=True)


def euros(form, field):
    try:
        counted_euros(field.data)
    except ValueError as error:
        raise StopValidation(str(error)) from None  # the checks after it need a valid amount


def positive_euros(form, field):
    try:
        cents = parse_euros(field.data)
    except ValueError as error:
        raise StopValidation(str(error)) from None
    if cents <= 0:
        raise StopValidation("Indiquez un montant supérieur à 0.")


def count_in_range(form, field):
    # Only a number: a text that is not one already has its message from IntegerField.
    if field.data is not None and not 0 <= field.data <= 9999:
        raise ValidationError("Un nombre entre 0 et 9999.")


def _count_field(cents: int) -> IntegerField:
    return IntegerField(denomination_label(cents), validators=[Optional(), count_in_range])


class OpenForm(Form):
    """A float typed, or (left empty) the cash counted at the last closing."""
    opening_float = StringField("Fond de caisse compté", filters=[strip], validators=[Optional(), euros],
                                description="En euros, par exemple 50. Vide : les espèces comptées à la dernière clôture.")

    def validate_opening_float(self, field):
        if field.data and counted_euros(field.data) < 0:
            raise ValidationError("Le fond de caisse ne peut pas être négatif.")

    def float_cents(self) -> int | None:
        """The float typed in cents, or None to carry over the last closing's cash."""
        return counted_euros(self.opening_float.data) if self.opening_float.data else None


class DepositForm(Form):
    amount = StringField("Montant déposé en banque", filters=[strip], validators=[DataRequired("Indiquez le montant."),
                                                                                   positive_euros])
    slip_number = StringField("N° du bordereau de dépôt", filters=[strip],
                              validators=[DataRequired("Indiquez le numéro du bordereau de dépôt."),
                                          Length(max=SLIP_LENGTH), no_hidden_characters])

    def amount_cents(self) -> int:
        return parse_euros(self.amount.data)


class ClosingForm(Form):
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
        amounts = {}
        for method in payments.counted():
            text = self[f"counted_{method.code}"].data
            if method.code == payments.CASH and not text:
                amounts[method.code] = cash_detail_total(self.cash_detail())
            else:
                amounts[method.code] = counted_euros(text)
        return amounts


for _method in payments.METHODS:  # every method that may be counted has its field; the form shows payments.counted()
    setattr(ClosingForm, f"counted_{_method.code}", StringField(
        COUNT_HINTS.get(_method.code, _method.label), filters=[strip], validators=[euros],
        description="En euros, par exemple 152,50. Vide : le total des billets et pièces."
        if _method.code == payments.CASH else "Vide : 0 €."))
for _cents in DENOMINATIONS:
    setattr(ClosingForm, f"n{_cents}", _count_field(_cents))
del _cents, _method
COUNT_FIELDS = {"notes": [f"n{c}" for c in NOTES], "coins": [f"n{c}" for c in COINS]}
