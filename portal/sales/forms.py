"""The sale screen's form: a draft held entirely in the page (lines as hidden fields), so that
"add a line" works without JavaScript and the server keeps nothing between requests."""
import secrets
from dataclasses import dataclass, field

from ..forms import HIDDEN, HIDDEN_CHARACTERS, parse_euros, record_id
from .operations import LineRequest, PaymentRequest

MAX_LINES = 20


@dataclass
class SaleDraft:
    token: str
    beneficiary_id: int | None = None
    lines: list[LineRequest] = field(default_factory=list)
    pay_cash: str = ""
    cash_given: str = ""
    pay_card: str = ""
    pay_cheque: str = ""
    cheque_number: str = ""
    override_reason: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    def payments(self) -> list[PaymentRequest]:
        """The payments typed; amounts already checked by parse()."""
        given = parse_euros(self.cash_given) if self.cash_given.strip() else None
        return [
            PaymentRequest("cash", parse_euros(self.pay_cash), given),
            PaymentRequest("card", parse_euros(self.pay_card)),
            PaymentRequest("cheque", parse_euros(self.pay_cheque), cheque_number=self.cheque_number),
        ]


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
        pay_cash=form.get("pay_cash", "")[:20], cash_given=form.get("cash_given", "")[:20],
        pay_card=form.get("pay_card", "")[:20], pay_cheque=form.get("pay_cheque", "")[:20],
        cheque_number=form.get("cheque_number", "")[:20].strip(),
        override_reason=form.get("override_reason", "")[:300].strip(),
    )
    for i in range(MAX_LINES):
        product_id = _int(form.get(f"line-{i}-product"))
        if product_id is None:
            continue
        quantity = _int(form.get(f"line-{i}-quantity"), 1)
        serial = HIDDEN.sub("", form.get(f"line-{i}-serial", ""))[:40]
        draft.lines.append(LineRequest(product_id, max(1, min(quantity, 100)), serial))
    for name in ("pay_cash", "cash_given", "pay_card", "pay_cheque"):
        try:
            parse_euros(getattr(draft, name))
        except ValueError as error:
            draft.errors[name] = str(error)
    for name in ("cheque_number", "override_reason"):
        if HIDDEN.search(getattr(draft, name)):
            draft.errors[name] = HIDDEN_CHARACTERS
    return draft
