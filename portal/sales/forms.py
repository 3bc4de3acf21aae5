"""The sale screen's form: a draft held entirely in the page (lines as hidden fields), so that
"add a line" works without JavaScript and the server keeps nothing between requests."""
import secrets
from dataclasses import dataclass, field

from .. import payments as methods
from ..forms import HIDDEN, HIDDEN_CHARACTERS, parse_euros, record_id
from .operations import LineRequest, PaymentRequest

MAX_LINES = 20


@dataclass
class SaleDraft:
    token: str
    beneficiary_id: int | None = None
    lines: list[LineRequest] = field(default_factory=list)
    amounts: dict[str, str] = field(default_factory=dict)  # method code -> amount as typed (pay_<code>)
    references: dict[str, str] = field(default_factory=dict)  # method code -> reference_<code>
    cash_given: str = ""
    override_reason: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    def payments(self) -> list[PaymentRequest]:
        """The payments typed; amounts already checked by parse()."""
        given = parse_euros(self.cash_given) if self.cash_given.strip() else None
        return [PaymentRequest(method.code, parse_euros(self.amounts.get(method.code)),
                               given if method.code == methods.CASH else None, self.references.get(method.code, ""))
                for method in methods.at_the_till()]


def _int(value, default=None):
    try:
        return record_id(value)
    except (TypeError, ValueError):
        return default


def new_draft(beneficiary_id: int | None) -> SaleDraft:
    return SaleDraft(token=secrets.token_urlsafe(24), beneficiary_id=beneficiary_id)


def parse_draft(form) -> SaleDraft:
    """Read the draft back from a submitted sale form; bad values become messages, never errors."""
    draft = SaleDraft(
        token=HIDDEN.sub("", form.get("token") or "")[:64] or secrets.token_urlsafe(24),
        beneficiary_id=_int(form.get("beneficiary_id")),
        amounts={method.code: form.get(f"pay_{method.code}", "")[:20] for method in methods.at_the_till()},
        references={method.code: form.get(f"reference_{method.code}", "")[:methods.REFERENCE_LENGTH].strip()
                    for method in methods.at_the_till() if method.reference},
        cash_given=form.get("cash_given", "")[:20],
        override_reason=form.get("override_reason", "")[:300].strip(),
    )
    for i in range(MAX_LINES):
        product_id = _int(form.get(f"line-{i}-product"))
        if product_id is None:
            continue
        quantity = _int(form.get(f"line-{i}-quantity"), 1)
        serial = HIDDEN.sub("", form.get(f"line-{i}-serial", ""))[:40]
        draft.lines.append(LineRequest(product_id, max(1, min(quantity, 100)), serial))
    typed = {f"pay_{code}": amount for code, amount in draft.amounts.items()} | {"cash_given": draft.cash_given}
    for name, amount in typed.items():
        try:
            parse_euros(amount)
        except ValueError as error:
            draft.errors[name] = str(error)
    texts = {f"reference_{code}": text for code, text in draft.references.items()}
    for name, text in (texts | {"override_reason": draft.override_reason}).items():
        if HIDDEN.search(text):
            draft.errors[name] = HIDDEN_CHARACTERS
    return draft
