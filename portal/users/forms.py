"""The account form used by admins, coordinators and managers."""
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional

from ..auth.forms import normalise_email, strong_password
from ..forms import Form, no_hidden_characters, strip
from ..security import RELAY_ROLES, Role

NO_CHOICE = 0


class UserForm(Form):
    email = StringField("Adresse e-mail", filters=[normalise_email], validators=[
        DataRequired("Saisissez l'adresse e-mail."),
        Length(max=254, message="254 caractères au plus."),
        Email("Cette adresse e-mail n'est pas valide.", check_deliverability=False),
    ], render_kw={"type": "email", "autocomplete": "off"})
    display_name = StringField("Nom affiché", filters=[strip], validators=[
        DataRequired("Saisissez le nom affiché (prénom et initiale suffisent)."),
        Length(max=120, message="120 caractères au plus."),
        no_hidden_characters,
    ])
    role = SelectField("Rôle", validate_choice=True)
    relay_id = SelectField("Structure", coerce=int, validate_choice=True,
                           description="Pour un·e bénévole ou un·e référent·e.")
    territory_id = SelectField("Territoire", coerce=int, validate_choice=True,
                               description="Pour un·e coordinateur·rice.")
    password = PasswordField(
        "Mot de passe", validators=[Optional(), strong_password],
        description="Au moins 10 caractères. À transmettre de vive voix ; la personne pourra le changer.",
        render_kw={"autocomplete": "new-password"},
    )

    def __init__(self, *args, creating: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.creating = creating

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.creating and not self.password.data:
            self.password.errors.append("Choisissez un mot de passe pour ce nouveau compte.")
            valid = False
        if self.role.data in RELAY_ROLES and self.relay_id.data == NO_CHOICE:
            self.relay_id.errors.append("Choisissez la structure de ce compte.")
            valid = False
        if self.role.data == Role.COORDINATOR and self.territory_id.data == NO_CHOICE:
            self.territory_id.errors.append("Choisissez le territoire de ce compte.")
            valid = False
        return valid
