"""Forms for territories and relays."""
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Regexp

from ..forms import Form, no_hidden_characters, strip, upper


class TerritoryForm(Form):
    name = StringField("Nom", filters=[strip], validators=[
        DataRequired("Saisissez le nom du territoire."),
        Length(max=120, message="120 caractères au plus."),
        no_hidden_characters,
    ])


class RelayForm(Form):
    name = StringField("Nom de la structure", filters=[strip], validators=[
        DataRequired("Saisissez le nom de la structure."),
        Length(max=120, message="120 caractères au plus."),
        no_hidden_characters,
    ])
    organisation = StringField("Organisme porteur", filters=[strip], validators=[
        Length(max=160, message="160 caractères au plus."),
        no_hidden_characters,
    ])
    town = StringField("Commune", filters=[strip], validators=[
        DataRequired("Saisissez la commune."),
        Length(max=80, message="80 caractères au plus."),
        no_hidden_characters,
    ])
    code = StringField(
        "Code court", filters=[upper],
        description="2 à 12 lettres ou chiffres, imprimé dans les numéros de reçu (ex. SPFGAP).",
        validators=[
            DataRequired("Saisissez un code court."),
            Regexp(r"^[A-Z0-9]{2,12}$", message="De 2 à 12 lettres majuscules ou chiffres, sans espace ni accent."),
        ],
    )
    address = TextAreaField("Adresse", filters=[strip], validators=[
        Length(max=300, message="300 caractères au plus."),
        no_hidden_characters,
    ])
    legal_mention = StringField(
        "Mention légale des reçus", filters=[strip],
        description="Ex. : Association loi 1901 non assujettie à la TVA (art. 261-7-1° du CGI).",
        validators=[Length(max=300, message="300 caractères au plus."), no_hidden_characters])
    receipt_format = SelectField("Format des reçus", choices=[("A5", "Feuille A5"), ("80mm", "Ticket 80 mm")])
    territory_id = SelectField("Territoire", coerce=int, validate_choice=True)
    is_mobile_team = BooleanField("Équipe mobile du territoire (ateliers pour les personnes des autres structures)")
    active = BooleanField("Structure active", default=True)
