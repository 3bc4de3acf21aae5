"""Printing a receipt: the first print is the original, each explicit reprint a numbered duplicate.

Showing a print's PDF again (a reload, a PDF viewer's range requests) writes nothing: only these
two operations do, each answering a repeated request (a double click, a replayed form) with the
print the first one made instead of a new one."""
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..database import write_transaction
from ..errors import Refused
from ..extensions import db
from ..templating import local_datetime
from .models import ReceiptPrint, Sale

ORIGINAL = 0
PRINTED_AT = "dd/MM/y 'à' HH:mm"


def print_original(user, sale: Sale) -> ReceiptPrint:
    """The sale's original print: recorded now by `user`, or the one already made."""
    try:
        with write_transaction():
            return _existing(sale.id, ORIGINAL) or _record(user, sale.id, ORIGINAL)
    except IntegrityError:  # a twin request recorded it first (PostgreSQL: the primary key waited)
        return _existing(sale.id, ORIGINAL)


def reprint(user, sale: Sale, seen: int | None) -> ReceiptPrint:
    """The duplicate that follows print `seen`, the last one the user's page showed: recorded now,
    or the one the user's own twin request just made. Refused when nothing was printed yet or
    when the page was out of date (someone else printed since)."""
    try:
        with write_transaction():
            return _duplicate_after(user, sale, seen)
    except IntegrityError:
        made = _existing(sale.id, seen + 1)
        return _twin_or_refuse(user, made, made.number)


def _duplicate_after(user, sale: Sale, seen: int | None) -> ReceiptPrint:
    last = db.session.scalar(select(func.max(ReceiptPrint.number)).where(ReceiptPrint.sale_id == sale.id))
    if last is None:
        raise Refused("Le reçu n'a pas encore été imprimé : imprimez d'abord l'original.")
    if seen is None or not ORIGINAL <= seen <= last:
        raise Refused(_out_of_date(_existing(sale.id, last)))
    if seen < last:
        return _twin_or_refuse(user, _existing(sale.id, seen + 1), last)
    return _record(user, sale.id, last + 1)


def next_print_number(sale: Sale) -> int:
    """The number the sale's next print will have: 0 (the original) until one is made."""
    return sale.prints[-1].number + 1 if sale.prints else ORIGINAL


def _existing(sale_id: int, number: int) -> ReceiptPrint | None:
    return db.session.get(ReceiptPrint, (sale_id, number))


def _record(user, sale_id: int, number: int) -> ReceiptPrint:
    made = ReceiptPrint(sale_id=sale_id, number=number, printed_by_id=user.id)
    db.session.add(made)
    db.session.flush()  # a twin's print of the same number fails here, or at the commit
    return made


def _twin_or_refuse(user, made: ReceiptPrint, last: int) -> ReceiptPrint:
    """`made`, the print asked for, when it is the last one and the user's own (a repeated click);
    otherwise the page the request came from was out of date."""
    if made.number == last and made.printed_by_id == user.id:
        return made
    raise Refused(_out_of_date(db.session.get(ReceiptPrint, (made.sale_id, last))))


def _out_of_date(last: ReceiptPrint) -> str:
    what = "l'original" if last.is_original else f"le DUPLICATA {last.number}"
    who = f" par {last.printed_by.display_name}" if last.printed_by else ""
    when = f" le {local_datetime(last.printed_at, PRINTED_AT)}" if last.printed_at else ""
    return (f"La page n'était plus à jour : {what} a été imprimé{who}{when}. "
            "Réimprimez si un autre exemplaire est nécessaire.")
