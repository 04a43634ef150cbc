"""Readiness checks: does the database answer, and does this node's PII key open its data?"""
from sqlalchemy import text

from ..extensions import db


def database_check() -> str:
    """"ok" when the database answers a trivial query, else "error: <exception class>" (for the operator)."""
    try:
        db.session.execute(text("SELECT 1"))
        return "ok"
    except Exception as e:  # any failure means "not ready"; the message helps the operator
        db.session.rollback()
        return f"error: {type(e).__name__}"


def pii_key_check() -> str:
    """"ok", or why this node's PII key ring cannot open the data (a node with the wrong key must not serve)."""
    from .fingerprint import problem

    try:
        found = problem()
    except Exception as e:  # a broken key setting is a reason not to serve, never a 500 of the probe
        db.session.rollback()
        return f"error: PII_KEY: {type(e).__name__}: {e}"[:300]
    return "ok" if found is None else f"error: {found}"
