"""Readiness checks: does each backing service answer?"""
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
