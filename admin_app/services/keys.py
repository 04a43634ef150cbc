"""Online PII key rotation over a key ring.

`PII_KEY` encrypts; keys in `PII_OLD_KEYS` still decrypt and still find rows by blind index (services.crypto). The
operator puts a new key first and the old one in PII_OLD_KEYS on every node (restarting them one at a time: no
downtime), then runs `flask rotate-pii-key`: every identity number any key of the ring opens is re-encrypted under
PII_KEY and its blind index recomputed, in batches of one short transaction each, while the application serves.
A row changed by the application meanwhile is left as the application wrote it (the update is conditional on the
ciphertext read). Killed part-way, every row is still readable with the ring; run again, it carries on (rows already
under PII_KEY are skipped) and repairs rows written under an old key at any time. When no row needs an old key any
more, the data's fingerprint names PII_KEY alone and the old key can be dropped.
"""
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.fernet import Fernet
from flask import current_app
from sqlalchemy import bindparam, select, update

from ..extensions import db
from ..models import IdentityVerification, User
from . import fingerprint as fp
from .audit import record
from .crypto import blind_index, encrypt, fernet, fingerprint, opening_key, ring
from .identity import normalize

BATCH = 500


class KeyRotationError(Exception):
    """The rotation was refused; nothing was changed."""


@dataclass
class RotationResult:
    users: int = 0  # rows re-encrypted now
    verifications: int = 0
    already: int = 0  # rows found under PII_KEY with the right index
    raced: int = 0  # rows the application changed between our read and our write (left as written)
    unreadable: list[str] = field(default_factory=list)  # "table id" of rows no key of the ring opens

    @property
    def complete(self) -> bool:
        return not self.unreadable and not self.raced


def new_key() -> str:
    """A fresh key in the format instance/config.py uses (a urlsafe base64 32-byte Fernet key)."""
    return Fernet.generate_key().decode()


def _rotate_table(model, keys: list[str], result: RotationResult, progress: Callable | None, batch: int) -> int:
    table = model.__table__
    target = keys[0]
    stmt = (update(table).where(table.c.id == bindparam("row_id"), table.c.id_number_enc == bindparam("old"))
            .values(id_number_enc=bindparam("enc"), id_number_index=bindparam("idx")))
    done, last = 0, 0
    while True:  # keyset batches, one short transaction each: the application goes on writing meanwhile
        rows = db.session.execute(select(table.c.id, table.c.id_type, table.c.id_number_enc, table.c.id_number_index)
                                  .where(table.c.id_number_enc.is_not(None), table.c.id > last)
                                  .order_by(table.c.id).limit(batch)).all()
        if not rows:
            break
        changes = []
        for row_id, id_type, token, index in rows:
            key = opening_key(token, keys)
            if key is None:
                result.unreadable.append(f"{table.name} {row_id}")
                continue
            number = fernet(key).decrypt(token.encode()).decode()
            new_index = blind_index(f"{id_type}:{normalize(number)}", target)
            if key == target and index == new_index:
                result.already += 1
                continue
            changes.append({"row_id": row_id, "old": token, "enc": encrypt(number, target), "idx": new_index})
        if changes:
            if db.engine.dialect.supports_sane_multi_rowcount:
                moved = db.session.execute(stmt, changes).rowcount
            else:  # one statement per row, so a row the application changed meanwhile is counted, not guessed
                moved = sum(db.session.execute(stmt, c).rowcount for c in changes)
            result.raced += len(changes) - moved  # updated by the application between our read and our write
            done += moved
        db.session.commit()
        last = rows[-1][0]
        if progress is not None:
            progress(table.name, done, last)
    return done


def rotate_pii_key(progress: Callable | None = None, batch: int = BATCH) -> RotationResult:
    """Re-encrypt under PII_KEY every User and IdentityVerification number any key of the ring opens; audited."""
    if not current_app.config.get("PII_KEY"):
        raise KeyRotationError("PII_KEY is not configured: there is no key to rotate to")
    keys = ring()
    if len(current_app.config["PII_KEY"]) < 32:
        raise KeyRotationError("PII_KEY must have at least 32 characters (use a generated key)")
    before = fp.stored() or []
    mine = [fingerprint(k) for k in keys]
    unknown = [f for f in before if f not in mine]
    if unknown:
        raise KeyRotationError(f"the data is sealed with the key whose fingerprint is {', '.join(unknown)}, which "
                               "is not in PII_KEY / PII_OLD_KEYS: add it to PII_OLD_KEYS first; nothing was changed")
    # From now on rows may be under any key of the ring: a node must hold all of them to be ready.
    fp.record(mine)
    db.session.commit()
    result = RotationResult()
    result.users = _rotate_table(User, keys, result, progress, batch)
    result.verifications = _rotate_table(IdentityVerification, keys, result, progress, batch)
    if result.complete:
        fp.record([mine[0]])  # every row opens under PII_KEY: the old keys may go
    record("rotate_pii_key", target_type="pii_key", target_id=mine[0],
           details={"users": result.users, "verifications": result.verifications, "already": result.already,
                    "raced": result.raced, "unreadable": len(result.unreadable), "from": before,
                    "to": mine[0], "complete": result.complete})
    db.session.commit()
    return result
