"""Login and password forms, and the password rules every account form uses."""
from functools import lru_cache
from pathlib import Path

from flask import current_app
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, ValidationError

from ..forms import Form, no_hidden_characters


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = (Path(__file__).parent / "common_passwords.txt").read_text().splitlines()
    return frozenset(line.strip().lower() for line in lines if line and not line.startswith("#"))


def password_problem(password: str) -> str | None:
    """Why a new password is refused, in French, or None when it is acceptable."""
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        return f"Le mot de passe doit contenir au moins {minimum} caractères."
    if len(password) > 200:
        return "Le mot de passe ne doit pas dépasser 200 caractères."
    if password.lower() in common_passwords():
        return "Ce mot de passe est trop courant : choisissez-en un autre."
    return None


def strong_password(form, field) -> None:
    """WTForms validator for password_problem()."""
    problem = password_problem(field.data or "")
    if problem:
        raise ValidationError(problem)


def normalise_email(value: str | None) -> str:
    return (value or "").strip().lower()


class LoginForm(Form):
    email = StringField(
        "Adresse e-mail", filters=[normalise_email],
        validators=[DataRequired("Saisissez votre adresse e-mail."), no_hidden_characters],
        render_kw={"autocomplete": "username", "type": "email"},
    )
    password = PasswordField(
        "Mot de passe", validators=[DataRequired("Saisissez votre mot de passe.")],
        render_kw={"autocomplete": "current-password"},
    )


class ChangePasswordForm(Form):
    current = PasswordField(
        "Mot de passe actuel", validators=[DataRequired("Saisissez votre mot de passe actuel.")],
        render_kw={"autocomplete": "current-password"},
    )
    new = PasswordField(
        "Nouveau mot de passe", validators=[DataRequired("Choisissez un nouveau mot de passe."), strong_password],
        render_kw={"autocomplete": "new-password"},
        description="Au moins 10 caractères. Une phrase courte est facile à retenir.",
    )
    confirm = PasswordField(
        "Confirmez le nouveau mot de passe",
        validators=[DataRequired("Saisissez à nouveau le mot de passe."),
                    EqualTo("new", "Les deux mots de passe ne sont pas identiques.")],
        render_kw={"autocomplete": "new-password"},
    )
