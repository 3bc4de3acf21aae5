"""The payment methods: one list, read by the sale screen, the cash closing, receipts, reports and
exports. Adding a method is one entry here; retiring one keeps it for the receipts and reports of
the past (its code is stored in payments and sealed in the ledger: never rename a code)."""
from dataclasses import dataclass


@dataclass(frozen=True)
class PaymentMethod:
    code: str
    label: str
    counted: bool = True  # counted at the closing: money, slips or vouchers that are in the till
    reference: str = ""  # what the volunteer must note for it (a cheque's number…); "" for nothing
    refund: bool = False  # money can go back this way when a sale of an earlier session is voided
    retired: bool = False  # no longer offered at the till


METHODS = (
    PaymentMethod("cash", "Espèces", refund=True),
    PaymentMethod("card", "Carte bancaire", refund=True),
    PaymentMethod("cheque", "Chèque", reference="Numéro du chèque"),
    PaymentMethod("voucher", "Prise en charge", reference="Organisme qui paie ou numéro du bon"),
    PaymentMethod("free", "Gratuit", counted=False),
)
CASH, FREE = "cash", "free"
REFERENCE_LENGTH = 40


def label(code: str) -> str:
    """The French name of a method, or its code for one no longer listed."""
    return next((method.label for method in METHODS if method.code == code), code)


def labels() -> dict[str, str]:
    """Every method's French name by code, in the list's order: the columns of reports and exports."""
    return {method.code: method.label for method in METHODS}


def at_the_till() -> list[PaymentMethod]:
    """The methods a volunteer can take a payment with, in the screen's order."""
    return [method for method in METHODS if method.code != FREE and not method.retired]


def counted() -> list[PaymentMethod]:
    """The methods counted at a closing (retired ones too: money taken before may still be there)."""
    return [method for method in METHODS if method.counted]
