"""Reading the laptop fleet: a session's slot and the bookings that meet it, the fleet with its
current or next loans, and the laptops part of a session's page."""
from datetime import date, datetime, time, timedelta

from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.orm import contains_eager, joinedload

from .. import clock
from ..extensions import db
from ..security import scope_clause, scoped
from ..workshops.forms import MAX_DURATION, format_clock
from ..workshops.models import WorkshopSession
from .forms import BookForm, ReturnForm
from .models import Laptop, LaptopLoan

# A laptop out for a session can be booked for a later one; one in repair or retired cannot.
BOOKABLE_STATES = ("available", "loaned")


def slot(day: date, start_time: time, minutes: int) -> tuple[datetime, datetime]:
    """[start, end) of a session in local wall-clock time: an evening session may end after midnight."""
    start = datetime.combine(day, start_time)
    return start, start + timedelta(minutes=minutes)


def session_slot(session: WorkshopSession) -> tuple[datetime, datetime]:
    return slot(session.day, session.start_time, session.duration_minutes)


def overlapping_loans(start: datetime, end: datetime, session_id: int | None, laptop_ids=None) -> list[LaptopLoan]:
    """The loans of the other sessions whose time meets [start, end) (back-to-back sessions do not
    meet), for the given laptops (ids or a subquery) or all of them."""
    # A session that meets this one starts at most the longest duration before it.
    first_day = (start - timedelta(minutes=MAX_DURATION)).date()
    query = (select(LaptopLoan).join(LaptopLoan.session)
             .options(contains_eager(LaptopLoan.session), joinedload(LaptopLoan.laptop))
             .where(WorkshopSession.day.between(first_day, end.date()))
             .order_by(WorkshopSession.day, WorkshopSession.start_time, LaptopLoan.id))
    if session_id is not None:
        query = query.where(LaptopLoan.session_id != session_id)
    if laptop_ids is not None:
        query = query.where(LaptopLoan.laptop_id.in_(laptop_ids))
    meets = []
    for loan in db.session.scalars(query):
        other_start, other_end = session_slot(loan.session)
        if other_start < end and start < other_end:
            meets.append(loan)
    return meets


def loan_time(loan: LaptopLoan) -> str:
    """"la séance du 12/03/2026 de 14 h 00 à 16 h 00 à Névache"."""
    session = loan.session
    start, end = session_slot(session)
    return (f"la séance du {session.day:%d/%m/%Y} de {format_clock(start.time())} à {format_clock(end.time())} "
            f"à {session.commune}")


def busy_message(loan: LaptopLoan) -> str:
    return f"{loan.laptop.tag} est déjà réservé pour {loan_time(loan)}."


def slot_clash(session: WorkshopSession, day: date, start_time: time, minutes: int) -> str | None:
    """Why the session cannot move to this slot (one of its laptops is booked then), or None."""
    if session.id is None:
        return None
    its_laptops = select(LaptopLoan.laptop_id).where(LaptopLoan.session_id == session.id)
    clash = next(iter(overlapping_loans(*slot(day, start_time, minutes), session.id, its_laptops)), None)
    if clash is None:
        return None
    return (f"L'ordinateur {clash.laptop.tag}, réservé pour cette séance, l'est aussi pour {loan_time(clash)} : "
            "choisissez un autre horaire, ou retirez d'abord sa réservation.")


def bookable_laptops(session: WorkshopSession) -> list[Laptop]:
    """The territory's laptops free for the session's slot and not booked for it yet."""
    busy = {loan.laptop_id for loan in overlapping_loans(*session_slot(session), session.id)}
    booked = select(LaptopLoan.laptop_id).where(LaptopLoan.session_id == session.id)
    return db.session.scalars(
        select(Laptop).where(Laptop.territory_id == session.relay.territory_id, Laptop.state.in_(BOOKABLE_STATES),
                             Laptop.id.not_in(booked), Laptop.id.not_in(busy))
        .order_by(Laptop.tag)).all()


def session_laptops_context(session: WorkshopSession, laptops_error: str | None = None,
                            book_form: BookForm | None = None, return_form: ReturnForm | None = None) -> dict:
    """What the laptops part of a session's page shows to the current user (a relay's volunteer or
    manager): the loans, and the forms the user may use; a refused form keeps its input."""
    loans = db.session.scalars(
        select(LaptopLoan).join(LaptopLoan.laptop).options(contains_eager(LaptopLoan.laptop))
        .where(LaptopLoan.session_id == session.id).order_by(Laptop.tag)).all()
    organiser = current_user.relay_id == session.relay_id
    at_session = organiser or current_user.relay_id == session.host_relay_id
    on_the_day = at_session and session.day <= clock.today()
    return_forms = {}
    if on_the_day:
        return_forms = {loan.laptop_id: ReturnForm(loan.laptop_id, formdata=None)
                        for loan in loans if not loan.returned_at}
        if return_form is not None:
            return_forms[return_form.laptop_id] = return_form
    if organiser:
        book_form = book_form or BookForm(formdata=None)
        book_form.laptop_id.choices = [(laptop.id, f"{laptop.tag} — {laptop.model}")
                                       for laptop in bookable_laptops(session)]
    return {
        "session": session, "loans": loans, "laptops_error": laptops_error, "may_book": organiser,
        "book_form": book_form if organiser else None, "may_hand_out": on_the_day, "return_forms": return_forms,
        "to_hand_out": sum(1 for loan in loans if not loan.handed_out_at and not loan.returned_at),
    }


def fleet() -> list[Laptop]:
    """The laptops the current user may see, by territory and tag."""
    return db.session.scalars(scoped(Laptop).options(joinedload(Laptop.territory))
                              .order_by(Laptop.territory_id, Laptop.tag)).all()


def current_or_next_loans(today: date) -> dict[int, LaptopLoan]:
    """Per laptop the user may see: the loan it is out for, or else its next booking."""
    loans = db.session.scalars(
        select(LaptopLoan).join(LaptopLoan.laptop).join(LaptopLoan.session)
        .options(contains_eager(LaptopLoan.session).joinedload(WorkshopSession.relay))
        .where(scope_clause(Laptop), LaptopLoan.returned_at.is_(None),
               or_(LaptopLoan.handed_out_at.is_not(None), WorkshopSession.day >= today))
        .order_by(WorkshopSession.day, WorkshopSession.start_time, LaptopLoan.id)).all()
    shown: dict[int, LaptopLoan] = {}
    for loan in loans:
        first = shown.get(loan.laptop_id)
        if first is None or (loan.handed_out_at and not first.handed_out_at):
            shown[loan.laptop_id] = loan
    return shown


def sessions_to_open(session_ids) -> set[int]:
    """Those of the sessions whose page the current user may open (a relay's own or hosted ones)."""
    if not current_user.works_in_relay or not session_ids:
        return set()
    return set(db.session.scalars(select(WorkshopSession.id).where(
        WorkshopSession.id.in_(session_ids), scope_clause(WorkshopSession))))


def session_loan(session_id: int, laptop_id: int) -> LaptopLoan | None:
    return db.session.scalar(select(LaptopLoan).where(LaptopLoan.session_id == session_id,
                                                      LaptopLoan.laptop_id == laptop_id))


def tag_taken(territory_id: int, tag: str, laptop_id: int | None) -> bool:
    """Whether another laptop of the territory has this tag."""
    clash = select(Laptop.id).where(Laptop.territory_id == territory_id, Laptop.tag == tag)
    if laptop_id:
        clash = clash.where(Laptop.id != laptop_id)
    return db.session.scalar(clash.limit(1)) is not None
