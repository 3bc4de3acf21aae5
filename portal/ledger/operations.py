"""Appending to and verifying the per-relay hash chains (keyed HMAC-SHA256)."""
import hashlib
import hmac
import json
from collections import defaultdict

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from .models import LedgerEntry, LedgerHead

FORMAT_VERSION = 1


def canonical(payload: dict) -> str:
    """One text for one content: sorted keys, no spaces, UTF-8 kept as is."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _key() -> bytes:
    # Derived from the instance secret unless a dedicated LEDGER_KEY is configured.
    secret = current_app.config.get("LEDGER_KEY") or current_app.config["SECRET_KEY"]
    return hmac.new(secret.encode(), b"relais-ledger", hashlib.sha256).digest()


def compute_mac(relay_id: int, seq: int, kind: str, ref_id: int, version: int, prev_mac: str, payload: str) -> str:
    message = "\n".join([f"v{version}", str(relay_id), str(seq), kind, str(ref_id), prev_mac, payload])
    return hmac.new(_key(), message.encode(), hashlib.sha256).hexdigest()


def append_entry(relay_id: int, kind: str, ref_id: int, payload: dict) -> LedgerEntry:
    """Seal `payload` as the next entry of the relay's chain, in the caller's transaction."""
    head = db.session.get(LedgerHead, relay_id, with_for_update=True)
    if head is None:
        head = LedgerHead(relay_id=relay_id, last_seq=0, last_mac="")
        db.session.add(head)
    text = canonical(payload)
    seq = head.last_seq + 1
    mac = compute_mac(relay_id, seq, kind, ref_id, FORMAT_VERSION, head.last_mac, text)
    entry = LedgerEntry(relay_id=relay_id, seq=seq, kind=kind, ref_id=ref_id, format_version=FORMAT_VERSION,
                        payload=text, prev_mac=head.last_mac, mac=mac)
    db.session.add(entry)
    head.last_seq, head.last_mac = seq, mac
    return entry


VERIFY_BATCH = 500  # entries checked at a time, with the live rows they seal read together


def verify_chain(relay_id: int, current_payloads, operations: set[tuple[str, int]]) -> str | None:
    """The first problem of the relay's chain in French, or None when it is intact.

    `current_payloads(kind, ref_ids)` rebuilds the payloads of a batch of entries from the live
    rows, {ref_id: payload} (an id missing: its row is gone), so that a change made to a sale after
    it was sealed is found too; `operations` are the (kind, id) of every sale, void and closing of
    the relay, each of which must be sealed. The entries are read a batch at a time: a relay's ten
    years are tens of thousands of them."""
    expected_seq, prev_mac, sealed, last_read = 1, "", set(), 0
    while True:
        entries = db.session.scalars(
            select(LedgerEntry).where(LedgerEntry.relay_id == relay_id, LedgerEntry.seq > last_read)
            .order_by(LedgerEntry.seq).limit(VERIFY_BATCH)).all()
        if not entries:
            break
        last_read = entries[-1].seq
        ids = defaultdict(list)
        for entry in entries:
            ids[entry.kind].append(entry.ref_id)
        live = {kind: current_payloads(kind, ref_ids) for kind, ref_ids in ids.items()}
        for entry in entries:
            where = f"écriture n° {entry.seq} ({entry.kind} #{entry.ref_id})"
            if entry.seq != expected_seq:
                return f"écriture n° {expected_seq} manquante (la suivante est la n° {entry.seq})"
            if entry.prev_mac != prev_mac:
                return f"{where} : chaînage rompu (écriture précédente supprimée ou insérée)"
            mac = compute_mac(relay_id, entry.seq, entry.kind, entry.ref_id, entry.format_version, entry.prev_mac,
                              entry.payload)
            if not hmac.compare_digest(mac, entry.mac):
                return f"{where} : écriture modifiée (empreinte invalide)"
            payload = live[entry.kind].get(entry.ref_id)
            if payload is None:
                return f"{where} : l'opération scellée a disparu"
            if canonical(payload) != entry.payload:
                return f"{where} : l'opération a été modifiée après son enregistrement"
            expected_seq, prev_mac = entry.seq + 1, entry.mac
            sealed.add((entry.kind, entry.ref_id))
    head = db.session.get(LedgerHead, relay_id)
    last_seq = head.last_seq if head else 0
    if last_seq != expected_seq - 1 or (head and head.last_mac != prev_mac):
        return f"écriture n° {expected_seq} manquante (la dernière connue est la n° {last_seq})"
    unsealed = sorted(operations - sealed, key=lambda op: op[1])
    if unsealed:
        kind, ref_id = unsealed[0]
        return f"{kind} #{ref_id} absente du registre (écriture supprimée ?)"
    return None


def short_fingerprint(mac: str) -> str:
    """The first 12 hex digits, in groups of four, printed on documents."""
    return " ".join(mac[i:i + 4] for i in range(0, 12, 4)).upper()


# Each feature that seals operations says how to rebuild their payload and list them.
_SOURCES: dict[str, object] = {}
_LISTERS: list = []


def register_source(kinds: tuple[str, ...], payloads_of, operations_of) -> None:
    """`payloads_of(kind, ref_ids)` → {ref_id: payload} of the rows still there, of that kind;
    `operations_of(relay_id)` → {(kind, id)}."""
    for kind in kinds:
        _SOURCES[kind] = payloads_of
    _LISTERS.append(operations_of)


def verify_relay(relay_id: int) -> str | None:
    """The first problem of the relay's ledger, or None when every operation is sealed intact."""
    operations = set().union(*(lister(relay_id) for lister in _LISTERS))

    def payloads(kind: str, ref_ids: list[int]) -> dict:
        source = _SOURCES.get(kind)
        return source(kind, ref_ids) if source else {}

    return verify_chain(relay_id, payloads, operations)
