"""The sales list's filters: a GET form, so that the list's URL can be shared and bookmarked.

Apart from forms.py, which holds the sale screen's draft."""
from dataclasses import replace
from datetime import date

from wtforms import DateField, SearchField, SelectField
from wtforms.validators import Length, Optional, Regexp, ValidationError

from .. import clock
from ..clock import day_bounds
from ..forms import Form, no_hidden_characters, strip
from .queries import SalesFilters, current_period

FIRST_DAY = date(2000, 1, 1)  # no sale before; and midnight in Paris on 1/1/1 is before UTC year 1


def receipt_typed(value):
    """"spfgap 2026 000123" → "SPFGAP2026000123": a receipt number as it is stored, upper-case."""
    return "".join(value.split()).upper() if isinstance(value, str) else value


class SalesFilterForm(Form):
    class Meta:
        csrf = False  # a GET form: its URL is shared

    day = DateField("Jour", default=clock.today, validators=[Optional()], description="Vide : tous les jours")
    person = SearchField("Personne", filters=[strip], description="Nom, prénom ou code B-…",
                         validators=[no_hidden_characters, Length(max=80, message="80 caractères au plus.")])
    product = SelectField("Produit", validate_choice=False)
    # The pattern refuses control characters too, and anything LIKE would read as a wildcard.
    receipt = SearchField("N° de reçu", filters=[receipt_typed], description="Complet ou ses derniers chiffres",
                          validators=[Length(max=30, message="30 caractères au plus."),
                                      Regexp(r"^[A-Z0-9-]*\Z", message="Lettres, chiffres et tirets seulement.")])

    def __init__(self, formdata, products):
        super().__init__(formdata)
        self.product.choices = [("", "Tous les produits")] + [(str(p.id), p.name) for p in products]
        self.day.render_kw = {"min": FIRST_DAY.isoformat(), "max": clock.today().isoformat()}  # the date picker's

    def validate_day(self, field):
        if field.data and field.data > clock.today():
            raise ValidationError("Ce jour n'est pas encore arrivé.")
        if field.data and field.data < FIRST_DAY:
            raise ValidationError(f"Choisissez un jour depuis le {FIRST_DAY:%d/%m/%Y}.")

    def validate_product(self, field):
        if field.data and field.data not in {value for value, _ in field.choices}:
            raise ValidationError("Choisissez un produit de la liste.")

    def filters(self, relay_id: int) -> SalesFilters | None:
        """The receipts asked for (by default the current period's), or None with a message next
        to each wrong field."""
        if not self.validate():
            return None
        if not self.day.raw_data:  # no day in the URL: the list as it opens
            chosen = current_period(relay_id)
        elif self.day.data:
            chosen = SalesFilters(*day_bounds(self.day.data))
        else:  # the day emptied: every day
            chosen = SalesFilters()
        return replace(chosen, person=self.person.data or "", receipt=self.receipt.data or "",
                       product_id=int(self.product.data) if self.product.data else None)

    def url_args(self, **changes) -> dict:
        """The filters as query arguments, for the links that keep them (the list's pages), with
        `changes` made (None drops an argument: `day=None` is the list as it opens)."""
        args = {name: self[name].data for name in ("person", "product", "receipt") if self[name].data}
        if self.day.raw_data:
            args["day"] = self.day.data.isoformat() if self.day.data else ""
        args.update(changes)
        return {name: value for name, value in args.items() if value is not None}
