"""Which PII key seals the data: its fingerprint is stored in the database (app_setting), never the key.

The stored value lists the fingerprints a node needs, the key the data is sealed with first (during a rotation
also the key it is moving from). A node whose key ring lacks one of them is not ready (/readyz answers 503,
`flask check` fails), and a backup records the fingerprint so a restore under other keys is refused.
"""
from flask import current_app
from sqlalchemy import inspect, select

from ..extensions import db
from ..models import AppSetting, IdentityVerification, User
from .crypto import fingerprint, opening_key, ring

SETTING = "pii_key_fingerprints"


def ring_fingerprints() -> list[str]:
    """Fingerprints of this node's key ring, PII_KEY's first."""
    return [fingerprint(k) for k in ring()]


def stored() -> list[str] | None:
    """The fingerprints recorded in the database, or None when none is recorded (or there is no table yet)."""
    try:
        value = db.session.scalar(select(AppSetting.value).where(AppSetting.name == SETTING))
    except Exception:  # a database not migrated yet: nothing to compare with
        db.session.rollback()
        if not inspect(db.engine).has_table(AppSetting.__tablename__):
            return None
        raise
    return [v for v in value.split(",") if v] if value else None


def record(fingerprints: list[str]) -> None:
    """Store the fingerprints the data needs (in the caller's transaction)."""
    value = ",".join(dict.fromkeys(fingerprints))
    row = db.session.get(AppSetting, SETTING)
    if row is None:
        db.session.add(AppSetting(name=SETTING, value=value))
    else:
        row.value = value
    db.session.flush()


def _sample_tokens(limit: int = 3) -> list[str]:
    tokens = []
    for model in (User, IdentityVerification):
        col = model.__table__.c.id_number_enc
        tokens += list(db.session.scalars(select(col).where(col.is_not(None)).order_by(model.__table__.c.id.desc())
                                          .limit(limit)))
    return tokens


def ensure() -> list[str] | None:
    """The stored fingerprints; recorded first when none are (first start, seed, a database from before),
    from the keys that open a sample of the rows. None when the data opens under no key of the ring; an empty
    list when the schema has no settings table yet (nothing is sealed that a key must open)."""
    found = stored()
    if found is not None:
        return found
    if not inspect(db.engine).has_table(AppSetting.__tablename__):
        return []
    keys = ring()
    needed = [keys[0]]
    for token in _sample_tokens():
        key = opening_key(token, keys)
        if key is None:
            return None
        if key not in needed:
            needed.append(key)
    record([fingerprint(k) for k in needed])
    db.session.commit()
    return stored()


def problem() -> str | None:
    """None when this node's PII key ring opens the data; else a sentence naming the PII key and the fingerprints."""
    if not current_app.config.get("PII_KEY"):
        return "PII_KEY is not configured"
    mine = ring_fingerprints()
    needed = ensure()
    if needed is None:
        return (f"PII_KEY (fingerprint {mine[0]}) does not open the stored identity numbers; configure the key the "
                "data was written with (or add it to PII_OLD_KEYS)")
    missing = [fp for fp in needed if fp not in mine]
    if missing:
        return (f"PII_KEY mismatch: the data is sealed with the key whose fingerprint is {', '.join(missing)}; this "
                f"node's keys have {', '.join(mine)}")
    return None
