"""Writing the laptop fleet: the coordinator's records, and each loan to a session — booked for a
free slot, handed out on the day, returned reset (or to repair). Every change locks the laptop rows
it depends on, so that two bookings of one laptop for the same time cannot both pass."""
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import clock
from ..audit.operations import record_event
from ..clock import utcnow
from ..database import write_transaction
from ..errors import Refused
from ..extensions import db
from ..workshops.models import WorkshopSession
from .forms import RESET_REQUIRED, STATES_BY_HAND, TAG_TAKEN
from .models import Laptop, LaptopLoan
from .queries import BOOKABLE_STATES, busy_message, loan_time, overlapping_loans, session_loan, session_slot

NOTHING_BOOKED = " Aucun ordinateur n'a été réservé."
NOT_BOOKED = "Cet ordinateur n'est pas réservé pour cette séance."


def save_laptop(laptop: Laptop, values: dict, user) -> Laptop:
    """Insert or update a laptop of the fleet with its form's values; its state is set by hand only
    while it is not loaned."""
    with write_transaction():
        if laptop.id:
            laptop = _lock_laptops([laptop.id])[laptop.id]
        state = values.get("state", laptop.state)
        if state != laptop.state and (laptop.state == "loaned" or state not in STATES_BY_HAND):
            raise Refused(f"{laptop.tag} est prêté : son état changera quand son retour sera enregistré.")
        for name, value in values.items():
            setattr(laptop, name, value)
        db.session.add(laptop)
        try:
            db.session.flush()
        except IntegrityError:  # the same tag saved meanwhile
            raise Refused(TAG_TAKEN) from None
        record_event("laptop.save", subject=f"laptop:{laptop.id}", detail=f"{laptop.tag} {laptop.state}", actor=user)
        return laptop


def book_laptops(session: WorkshopSession, laptop_ids, user) -> list[Laptop]:
    """Book the territory's laptops for the session — all of them, or none when one is in repair,
    retired, or booked for a session at the same time. Returns those newly booked."""
    wanted = sorted(set(laptop_ids))
    if not wanted:
        raise Refused("Cochez au moins un ordinateur à réserver.")
    with write_transaction():
        laptops = _lock_laptops(wanted)
        booked = set(db.session.scalars(select(LaptopLoan.laptop_id).where(LaptopLoan.session_id == session.id)))
        clashes = {}
        for loan in overlapping_loans(*session_slot(session), session.id, wanted):
            clashes.setdefault(loan.laptop_id, loan)
        for laptop_id in wanted:
            laptop = laptops.get(laptop_id)
            if laptop is None or laptop.territory_id != session.relay.territory_id:
                raise Refused("Ordinateur introuvable dans le parc du territoire." + NOTHING_BOOKED)
            if laptop.state not in BOOKABLE_STATES:
                raise Refused(f"{laptop.tag} est {laptop.state_label.lower()} : il ne peut pas être réservé."
                              + NOTHING_BOOKED)
            if laptop_id in clashes:
                raise Refused(busy_message(clashes[laptop_id]) + NOTHING_BOOKED)
        new = [laptops[laptop_id] for laptop_id in wanted if laptop_id not in booked]
        for laptop in new:
            db.session.add(LaptopLoan(session_id=session.id, laptop_id=laptop.id, booked_by_id=user.id))
        record_event("laptop.book", subject=f"workshop_session:{session.id}",
                     detail=", ".join(laptop.tag for laptop in new), actor=user)
        return new


def unbook_laptop(session: WorkshopSession, laptop_id: int, user) -> Laptop:
    """Cancel a laptop's booking for the session, before it is handed out."""
    with write_transaction():
        laptop, loan = _locked_loan(session, laptop_id)
        if loan.handed_out_at or loan.returned_at:
            raise Refused(f"{laptop.tag} a déjà été remis : enregistrez son retour.")
        db.session.delete(loan)
        record_event("laptop.unbook", subject=f"workshop_session:{session.id}", detail=laptop.tag, actor=user)
        return laptop


def hand_out_laptops(session: WorkshopSession, user) -> list[Laptop]:
    """On the session's day (or after), hand out all its booked laptops — or none, when one is in
    repair or still out for another session."""
    if session.day > clock.today():
        raise Refused("La séance n'a pas encore eu lieu : les ordinateurs se remettent le jour même.")
    with write_transaction():
        waiting = _waiting(session.id)
        laptops = _lock_laptops([loan.laptop_id for loan in waiting])
        loans = sorted((loan for loan in _waiting(session.id) if loan.laptop_id in laptops),
                       key=lambda loan: loan.laptop.tag)
        if not loans:
            raise Refused("Aucun ordinateur réservé n'attend d'être remis pour cette séance.")
        out = {loan.laptop_id: loan for loan in db.session.scalars(select(LaptopLoan).where(
            LaptopLoan.laptop_id.in_(list(laptops)), LaptopLoan.session_id != session.id,
            LaptopLoan.handed_out_at.is_not(None), LaptopLoan.returned_at.is_(None)))}
        for loan in loans:
            laptop = laptops[loan.laptop_id]
            if laptop.state not in BOOKABLE_STATES:
                raise Refused(f"{laptop.tag} est {laptop.state_label.lower()} : retirez sa réservation. "
                              "Aucun ordinateur n'a été remis.")
            if laptop.id in out:
                raise Refused(f"{laptop.tag} est encore prêté pour {loan_time(out[laptop.id])} : "
                              "enregistrez d'abord son retour. Aucun ordinateur n'a été remis.")
        now = utcnow()
        for loan in loans:
            loan.handed_out_at = now
            laptops[loan.laptop_id].state = "loaned"
        record_event("laptop.hand_out", subject=f"workshop_session:{session.id}",
                     detail=", ".join(loan.laptop.tag for loan in loans), actor=user)
        return [loan.laptop for loan in loans]


def return_laptop(session: WorkshopSession, laptop_id: int, user, reset_done: bool, damage: str = "",
                  needs_repair: bool = False) -> Laptop:
    """Record a laptop's return from the session (even if its hand-out was not recorded): reset,
    or sent to repair; it is then available again unless it is to be repaired."""
    if session.day > clock.today():
        raise Refused("La séance n'a pas encore eu lieu : aucun retour à enregistrer.")
    if not reset_done and not needs_repair:
        raise Refused(RESET_REQUIRED)
    with write_transaction():
        laptop, loan = _locked_loan(session, laptop_id)
        if loan.returned_at:
            raise Refused(f"Le retour de {laptop.tag} est déjà enregistré.")
        loan.returned_at, loan.returned_by_id = utcnow(), user.id
        loan.reset_done, loan.damage = reset_done, damage or ""
        laptop.state = _state_after_return(laptop, session.id, needs_repair)
        record_event("laptop.return", subject=f"laptop:{laptop.id}",
                     detail=f"workshop_session:{session.id} réinitialisé={reset_done} état={laptop.state} "
                            f"{loan.damage}".strip(), actor=user)
        return laptop


def _lock_laptops(laptop_ids) -> dict[int, Laptop]:
    """The laptops, their rows locked until commit and taken in id order so that two writers never
    wait for each other crosswise (SQLite holds the write lock already)."""
    return {laptop.id: laptop for laptop in db.session.scalars(
        select(Laptop).where(Laptop.id.in_(laptop_ids)).order_by(Laptop.id).with_for_update()
        .execution_options(populate_existing=True))}


def _locked_loan(session: WorkshopSession, laptop_id: int) -> tuple[Laptop, LaptopLoan]:
    """A laptop booked for the session (its row locked) and its loan; refused when not booked."""
    laptop = _lock_laptops([laptop_id]).get(laptop_id)
    loan = session_loan(session.id, laptop_id)
    if loan is None:
        raise Refused(NOT_BOOKED)
    return laptop, loan


def _waiting(session_id: int) -> list[LaptopLoan]:
    """The session's loans booked and not handed out nor returned yet."""
    return db.session.scalars(select(LaptopLoan).where(
        LaptopLoan.session_id == session_id, LaptopLoan.handed_out_at.is_(None),
        LaptopLoan.returned_at.is_(None))).all()


def _state_after_return(laptop: Laptop, session_id: int, needs_repair: bool) -> str:
    if needs_repair:
        return "repair"
    if laptop.state != "loaned":
        return laptop.state  # a repair or retirement decided meanwhile stands
    still_out = db.session.scalar(select(LaptopLoan.id).where(
        LaptopLoan.laptop_id == laptop.id, LaptopLoan.session_id != session_id,
        LaptopLoan.handed_out_at.is_not(None), LaptopLoan.returned_at.is_(None)).limit(1))
    return "loaned" if still_out else "available"
