"""The product form: prices typed in euros, kept in cents; the relays that offer it."""
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp, StopValidation

from ..forms import Form, MultiCheckboxField, WholeNumberField, no_hidden_characters, parse_euros, strip, upper
from .models import CATEGORIES, TRACKING

MAX_PRICE_CENTS = 1_000_000  # 10 000 €: anything above is a typing slip
# The fields copied as they are onto the product.
PRODUCT_FIELDS = ("code", "name", "category", "price_cents", "reference_cents", "tracking",
                  "eligibility_required", "limit_per_person", "active")


def parse_price(text: str | None) -> int:
    """"5", "5,00", "5.50" or "5,50 €" → cents; ValueError with a French message otherwise."""
    if (text or "").strip().startswith("-"):
        raise ValueError("Le prix ne peut pas être négatif.")
    return parse_euros(text, MAX_PRICE_CENTS)


class EurosField(StringField):
    """A required amount typed in euros, held in cents (`data` is an int)."""

    def __init__(self, label, required: str, **kwargs):
        super().__init__(label, **kwargs)
        self.required = required

    def process_formdata(self, valuelist):
        self.data = None
        if valuelist and valuelist[0].strip():
            self.data = parse_price(valuelist[0])

    def pre_validate(self, form):
        if self.data is None and not self.process_errors:
            raise StopValidation(self.required)

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        return f"{self.data // 100},{self.data % 100:02d}"


class ProductForm(Form):
    code = StringField(
        "Code", filters=[upper],
        description="2 à 20 lettres majuscules, chiffres ou tirets (ex. SIM-PREPAYEE).",
        validators=[
            DataRequired("Saisissez un code."),
            Regexp(r"^[A-Z0-9][A-Z0-9-]{0,18}[A-Z0-9]$",
                   message="De 2 à 20 lettres majuscules, chiffres ou tirets, sans espace ni accent."),
        ],
    )
    name = StringField("Nom", filters=[strip], validators=[
        DataRequired("Saisissez le nom du produit."),
        Length(max=120, message="120 caractères au plus."),
        no_hidden_characters,
    ])
    category = SelectField("Catégorie", choices=list(CATEGORIES.items()))
    price_cents = EurosField(
        "Prix solidaire (€)", description="Ex. 5 ou 5,50. 0 pour un produit gratuit.",
        required="Saisissez le prix solidaire (0 pour un produit gratuit).",
        render_kw={"inputmode": "decimal", "size": 10})
    reference_cents = EurosField(
        "Prix de référence (€)", description="Le prix habituel dans le commerce, rappelé sur le reçu.",
        required="Saisissez le prix de référence.",
        render_kw={"inputmode": "decimal", "size": 10})
    tracking = SelectField("Suivi à l'unité", choices=list(TRACKING.items()),
                           description="Les produits suivis sont livrés et vendus numéro par numéro.")
    eligibility_required = BooleanField("Réservé aux personnes éligibles", default=True)
    limit_per_person = WholeNumberField(
        "Limite par personne (facultatif)", description="Nombre d'unités au plus par personne (ex. 1).",
        validators=[Optional(), NumberRange(1, 1000, "Entre 1 et 1 000, ou laissez vide pour ne pas limiter.")],
        render_kw={"inputmode": "numeric", "size": 6})
    active = BooleanField("Produit actif", default=True)
    relay_ids = MultiCheckboxField("Structures qui le proposent", coerce=int, validate_choice=True,
                                   description="Seuil d'alerte de stock : 5 par défaut, réglable sur la page Stock.")
