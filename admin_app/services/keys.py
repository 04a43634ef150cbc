"""PII key rotation: re-encrypt every stored identity number under a new PII_KEY and recompute its blind index.

Everything happens in one transaction: either every row moves to the new key, or (on any error, including a
ciphertext the current key cannot open) nothing changes. The running application keeps using the key in its
configuration; the operator puts the new key there and restarts (see `flask rotate-pii-key --help`).
"""
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app
from sqlalchemy import bindparam, select, update

from ..extensions import db
from ..models import IdentityVerification, User
from .crypto import blind_index, decrypt, encrypt
from .identity import normalize

BATCH = 2000


class KeyRotationError(Exception):
    """The rotation was refused; nothing was changed."""


@dataclass
class RotationResult:
    users: int
    verifications: int


def new_key() -> str:
    """A fresh key in the format instance/config.py uses (a urlsafe base64 32-byte Fernet key)."""
    return Fernet.generate_key().decode()


def _rotate_table(model, old_key: str, new_key_: str) -> int:
    table = model.__table__
    stmt = (update(table).where(table.c.id == bindparam("row_id"))
            .values(id_number_enc=bindparam("enc"), id_number_index=bindparam("idx")))
    done, last = 0, 0
    while True:  # keyset batches: memory stays flat however many rows there are
        rows = db.session.execute(select(table.c.id, table.c.id_type, table.c.id_number_enc)
                                  .where(table.c.id_number_enc.is_not(None), table.c.id > last)
                                  .order_by(table.c.id).limit(BATCH)).all()
        if not rows:
            break
        batch = []
        for row_id, id_type, token in rows:
            try:
                number = decrypt(token, old_key)
            except InvalidToken as exc:
                raise KeyRotationError(f"{table.name} row {row_id}: the current PII_KEY cannot decrypt its identity "
                                       "number; is PII_KEY the key the data was written with?") from exc
            batch.append({"row_id": row_id, "enc": encrypt(number, new_key_),
                          "idx": blind_index(f"{id_type}:{normalize(number)}", new_key_)})
        db.session.execute(stmt, batch)
        done += len(batch)
        last = rows[-1][0]
    return done


def rotate_pii_key(new_key_: str, old_key: str | None = None) -> RotationResult:
    """Re-encrypt User and IdentityVerification identity numbers under `new_key_`; one transaction."""
    old_key = old_key or current_app.config.get("PII_KEY")
    if not old_key:
        raise KeyRotationError("PII_KEY is not configured: there is no current key to rotate from")
    if not new_key_ or len(new_key_) < 32:
        raise KeyRotationError("the new key must have at least 32 characters (use the generated one)")
    if new_key_ == old_key:
        raise KeyRotationError("the new key is the current key")
    try:
        users = _rotate_table(User, old_key, new_key_)
        verifications = _rotate_table(IdentityVerification, old_key, new_key_)
        # Check before committing: a sample decrypts under the new key (a wrong key object would show here).
        for model in (User, IdentityVerification):
            token = db.session.scalar(select(model.__table__.c.id_number_enc)
                                      .where(model.__table__.c.id_number_enc.is_not(None)).limit(1))
            if token is not None:
                decrypt(token, new_key_)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return RotationResult(users=users, verifications=verifications)
