"""Stock forms: delivery (quantity or scanned serial numbers), count adjustment, transfer, thresholds."""
import re

from stdnum import imei, luhn
from stdnum.exceptions import ValidationError as NumberError
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..catalogue.models import DEVICE_CATEGORIES
from ..forms import Form, WholeNumberField, no_hidden_characters, record_id, strip

NO_CHOICE = 0
MAX_QUANTITY = 10_000
MAX_SERIALS = 500  # one delivery note; a bigger delivery is several notes
MAX_LINE_ERRORS = 20  # beyond, the list would hide the form
GRADES = [("", "—"), ("A", "A — comme neuf"), ("B", "B — bon état"), ("C", "C — traces d'usage")]
SERIAL_NUMBER = re.compile(r"^[A-Za-z0-9-]{3,40}$")
SEPARATORS = re.compile(r"[\s.-]")  # how people and labels group the digits of an ICCID or IMEI


def serial_problem(tracking: str, serial: str) -> str | None:
    """What is wrong with one ICCID, IMEI or serial number, or None when it is valid."""
    digits = SEPARATORS.sub("", serial)
    if tracking == "iccid":
        if not digits.isdecimal():
            return "un ICCID ne contient que des chiffres."
        if not 18 <= len(digits) <= 22:
            return "un ICCID compte de 18 à 22 chiffres."
        if not digits.startswith("89"):
            return "un ICCID commence par 89."
        if not luhn.is_valid(digits):
            return "chiffre de contrôle ICCID incorrect."
    elif tracking == "imei":
        if not digits.isdecimal():
            return "un IMEI ne contient que des chiffres."
        if len(digits) != 15:
            return "un IMEI compte 15 chiffres."
        try:
            imei.validate(digits)
        except NumberError:
            return "chiffre de contrôle IMEI incorrect."
    elif not SERIAL_NUMBER.match(serial):
        return "un numéro de série compte de 3 à 40 lettres, chiffres ou tirets."
    return None


def stored_serial(tracking: str, serial: str) -> str:
    """The form a valid number is kept in: digits only for an ICCID or IMEI, as typed otherwise."""
    return SEPARATORS.sub("", serial) if tracking in ("iccid", "imei") else serial


def read_serials(tracking: str, text: str) -> tuple[list[tuple[int, str]], list[str]]:
    """The (line number, serial) pairs of a pasted or scanned list, and a message per wrong line."""
    serials, errors, seen = [], [], {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        typed = line.strip()
        if not typed:
            continue
        problem = serial_problem(tracking, typed)
        serial = stored_serial(tracking, typed)
        if problem is None and serial in seen:
            problem = f"déjà saisi ligne {seen[serial]}."
        if problem:
            errors.append(f"Ligne {number} : {typed[:40]} — {problem}")
            continue
        seen[serial] = number
        serials.append((number, serial))
    return serials, errors


def shorten(errors: list[str]) -> list[str]:
    """At most MAX_LINE_ERRORS messages, then how many more lines need fixing."""
    if len(errors) <= MAX_LINE_ERRORS:
        return errors
    return errors[:MAX_LINE_ERRORS] + [f"… et {len(errors) - MAX_LINE_ERRORS} autres lignes à corriger."]


def quantity_field(label: str, **kwargs):
    return WholeNumberField(label, render_kw={"inputmode": "numeric", "size": 6}, **kwargs)


class DeliveryForm(Form):
    relay_id = SelectField("Structure", coerce=record_id, validate_choice=True)
    product_id = SelectField("Produit", coerce=record_id, validate_choice=False)
    note = StringField("Numéro du bon de livraison", filters=[strip], validators=[
        DataRequired("Saisissez le numéro du bon de livraison."),
        Length(max=60, message="60 caractères au plus."),
        no_hidden_characters,
    ])
    quantity = quantity_field("Quantité", description="Pour un produit sans numéro de série.", validators=[
        Optional(), NumberRange(1, MAX_QUANTITY, "Entre 1 et 10 000."),
    ])
    serials = TextAreaField(
        "Numéros (ICCID, IMEI ou numéro de série)",
        description="Un numéro par ligne : scannez chaque code-barres (le lecteur passe à la ligne) "
                    "ou collez la liste.",
        render_kw={"rows": 8, "autocomplete": "off", "spellcheck": "false"})
    grade = SelectField("Grade (appareils reconditionnés)", choices=GRADES, default="")

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.relay_id.data == NO_CHOICE:
            self.relay_id.errors.append("Choisissez la structure livrée.")
            valid = False
        if not self.product_id.data and not self.product_id.errors:
            self.product_id.errors.append("Choisissez le produit livré.")
            valid = False
        return valid

    def check_lines(self, product) -> list[tuple[int, str]] | None:
        """The serial numbers to deliver (empty for an untracked product), or None after saying
        next to the fields what is wrong."""
        text = self.serials.data or ""
        if not product.is_tracked:
            if text.strip():
                self.serials.errors.append("Ce produit n'a pas de numéro de série : indiquez seulement la quantité.")
            if not self.quantity.data:
                self.quantity.errors.append("Indiquez la quantité livrée.")
            if self.grade.data:
                self.grade.errors.append("Le grade ne concerne que les appareils reconditionnés.")
            return None if self.serials.errors or self.quantity.errors or self.grade.errors else []
        serials, errors = read_serials(product.tracking, text)
        if not serials and not errors:
            errors.append("Scannez ou collez les numéros, un par ligne.")
        if len(serials) > MAX_SERIALS:
            errors.append(f"{MAX_SERIALS} numéros au plus par livraison : saisissez un bon à la fois.")
        self.serials.errors.extend(shorten(errors))
        if self.quantity.data and self.quantity.data != len(serials) and not errors:
            self.quantity.errors.append(f"La quantité ({self.quantity.data}) ne correspond pas "
                                        f"au nombre de numéros ({len(serials)}).")
        if self.grade.data and product.category not in DEVICE_CATEGORIES:
            self.grade.errors.append("Le grade ne concerne que les appareils reconditionnés.")
        return None if self.serials.errors or self.quantity.errors or self.grade.errors else serials


class AdjustForm(Form):
    product_id = SelectField("Produit", coerce=record_id, validate_choice=True)
    counted = quantity_field("Quantité comptée", description="Le nombre réel d'unités en rayon.", validators=[
        InputRequired("Indiquez la quantité comptée (0 s'il n'en reste aucune)."),
        NumberRange(0, MAX_QUANTITY, "Entre 0 et 10 000."),
    ])
    reason = StringField("Motif de l'écart", filters=[strip], validators=[
        DataRequired("Indiquez le motif de l'écart (casse, perte, erreur de saisie…)."),
        Length(max=300, message="300 caractères au plus."),
        no_hidden_characters,
    ])

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.product_id.data == NO_CHOICE:
            self.product_id.errors.append("Choisissez le produit compté.")
            valid = False
        return valid


class TransferForm(Form):
    source_id = SelectField("Depuis la structure", coerce=record_id, validate_choice=True)
    destination_id = SelectField("Vers la structure", coerce=record_id, validate_choice=True)
    product_id = SelectField("Produit", coerce=record_id, validate_choice=False,
                             description="Les produits suivis par numéro ne se transfèrent pas ici.")
    quantity = quantity_field("Quantité", validators=[
        InputRequired("Indiquez la quantité à transférer."),
        NumberRange(1, MAX_QUANTITY, "Entre 1 et 10 000."),
    ])

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field, message in ((self.source_id, "Choisissez la structure de départ."),
                               (self.destination_id, "Choisissez la structure d'arrivée."),
                               (self.product_id, "Choisissez le produit.")):
            if not field.data and not field.errors:
                field.errors.append(message)
                valid = False
        if self.source_id.data and self.source_id.data == self.destination_id.data:
            self.destination_id.errors.append("Choisissez une autre structure que celle de départ.")
            valid = False
        return valid


def thresholds_form(offers):
    """A form with one threshold per offered product, named threshold_<product id>."""

    class ThresholdsForm(Form):
        pass

    for offer in offers:
        setattr(ThresholdsForm, f"threshold_{offer.product_id}", quantity_field(
            offer.product.name, default=offer.low_stock_threshold, validators=[
                InputRequired("Indiquez un seuil (0 : alerte seulement quand il n'en reste plus)."),
                NumberRange(0, 1000, "Entre 0 et 1 000."),
            ]))
    return ThresholdsForm()
