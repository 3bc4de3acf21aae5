"""The sale screen's form: a draft held entirely in the page (lines as hidden fields), so that
"add a line" works without JavaScript and the server keeps nothing between requests."""
import secrets
from dataclasses import dataclass, field

from .. import payments as methods
from ..forms import HIDDEN, HIDDEN_CHARACTERS, parse_euros, record_id
from .operations import LineRequest, PaymentRequest
from .rules import MAX_QUANTITY, QUANTITY_RANGE

MAX_LINES = 20


@dataclass
class SaleDraft:
    token: str
    beneficiary_id: int | None = None
    lines: list[LineRequest] = field(default_factory=list)
    amounts: dict[str, str] = field(default_factory=dict)  # method code -> amount as typed (pay_<code>)
    references: dict[str, str] = field(default_factory=dict)  # method code -> reference_<code>
    cash_given: str = ""
    cash_filled: str = ""  # the cash amount the screen filled in (the total), until the volunteer types another
    override_reason: str = ""
    typed: dict[str, str] = field(default_factory=dict)  # field -> what was typed, when it is not valid
    errors: dict[str, str] = field(default_factory=dict)

    def payments(self) -> list[PaymentRequest]:
        """The payments typed; amounts already checked by parse()."""
        given = parse_euros(self.cash_given) if self.cash_given.strip() else None
        return [PaymentRequest(method.code, parse_euros(self.amounts.get(method.code)),
                               given if method.code == methods.CASH else None, self.references.get(method.code, ""))
                for method in methods.at_the_till()]

    def fill_cash(self, total: int) -> None:
        """Cash for the whole total while no amount is typed, or only the one the screen filled in:
        an amount the volunteer typed is never replaced."""
        typed = {code: amount.strip() for code, amount in self.amounts.items() if amount.strip()}
        if typed and typed != {methods.CASH: self.cash_filled}:
            return
        self.cash_filled = euros_typed(total) if total else ""
        self.amounts[methods.CASH] = self.cash_filled

    def remove_line(self, index: int) -> None:
        """Take line `index` out; what was typed on the lines after it moves up with them."""
        if not 0 <= index < len(self.lines):
            return
        self.lines.pop(index)
        for kept in (self.typed, self.errors):
            lines = {name: value for name, value in kept.items() if name.startswith("line-")}
            for name in lines:
                del kept[name]
            for name, value in lines.items():
                _, number, part = name.split("-", 2)
                if int(number) != index:
                    kept[f"line-{int(number) - (int(number) > index)}-{part}"] = value

    def change(self) -> int | None:
        """The change to give back for the cash given (negative: what is missing), if it can be said."""
        if not self.cash_given.strip() or {"cash_given", f"pay_{methods.CASH}"} & self.errors.keys():
            return None
        return parse_euros(self.cash_given) - parse_euros(self.amounts.get(methods.CASH))


@dataclass
class NewLine:
    """The "add a product" part of the form, as typed."""
    code: str = ""
    product_id: int | None = None
    quantity: int = 1
    serial: str = ""

    @property
    def empty(self) -> bool:
        return not self.code and self.product_id is None


def euros_typed(cents: int) -> str:
    return f"{cents // 100},{cents % 100:02d}"


def _int(value, default=None):
    try:
        return record_id(value)
    except (TypeError, ValueError):
        return default


def _quantity(text: str) -> int | None:
    """A whole number of units from 1 to MAX_QUANTITY, or None ("-1", "2,5", "abc")."""
    text = text.strip()
    return int(text) if text.isdecimal() and text.isascii() and 1 <= int(text) <= MAX_QUANTITY else None


def new_draft(beneficiary_id: int | None) -> SaleDraft:
    return SaleDraft(token=secrets.token_urlsafe(24), beneficiary_id=beneficiary_id)


def parse_draft(form) -> SaleDraft:
    """Read the draft back from a submitted sale form; bad values become messages, never errors."""
    till = methods.at_the_till()
    draft = SaleDraft(
        token=HIDDEN.sub("", form.get("token") or "")[:64] or secrets.token_urlsafe(24),
        beneficiary_id=_int(form.get("beneficiary_id")),
        amounts={method.code: form.get(f"pay_{method.code}", "")[:20] for method in till},
        references={method.code: form.get(f"reference_{method.code}", "")[:methods.REFERENCE_LENGTH].strip()
                    for method in till if method.reference},
        cash_given=form.get("cash_given", "")[:20], cash_filled=form.get("cash_filled", "")[:20].strip(),
        override_reason=form.get("override_reason", "")[:300].strip(),
    )
    for i in range(MAX_LINES):
        product_id = _int(form.get(f"line-{i}-product"))
        if product_id is None:
            continue
        typed = form.get(f"line-{i}-quantity", "1")[:20]
        quantity = _quantity(typed)
        index = len(draft.lines)
        if quantity is None:
            draft.typed[f"line-{index}-quantity"] = typed
            draft.errors[f"line-{index}-quantity"] = QUANTITY_RANGE
        serial = HIDDEN.sub("", form.get(f"line-{i}-serial", ""))[:40]
        draft.lines.append(LineRequest(product_id, quantity or 0, serial))
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


def parse_new_line(form, draft: SaleDraft) -> NewLine:
    """Read the "add a product" fields; a quantity that is not a whole number is a message on the draft."""
    line = NewLine(code=form.get("add_code", "").strip()[:40], product_id=_int(form.get("add_product") or None),
                   serial=form.get("add_serial", "").strip()[:40])
    typed = form.get("add_quantity", "").strip()[:20]
    if HIDDEN.search(line.code + line.serial):
        draft.errors["add"] = HIDDEN_CHARACTERS
    elif typed and _quantity(typed) is None:
        draft.typed["add_quantity"] = typed
        draft.errors["add_quantity"] = QUANTITY_RANGE
    line.quantity = _quantity(typed) or 1
    return line
