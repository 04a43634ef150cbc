"""What marks a published record changed for the machine APIs' incremental sync (`_lastUpdated`, `updated_since`).

A Practitioner is its staff profile and a few account fields (e-mail, identity document); the profile's updated_at
moves with any write to its row (the column's onupdate, ORM and Core UPDATE alike), an institution's likewise. An
account change touches no profile row, so it is marked here: in the ORM flush for attribute sets, and by
`touch_accounts` for the bulk UPDATE statements that bypass the ORM (identity approval). A re-encryption under a new
key (services.keys) changes no value a consumer sees and marks nothing.
"""
from sqlalchemy import event, inspect, update
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import StaffProfile, User
from ..models.types import utcnow

# The account fields a Practitioner shows (telecom e-mail; identifier for full-ID clients).
SHOWN = ("email", "id_type", "id_number_index")


def touch_accounts(user_ids) -> None:
    """Mark the profiles of these accounts changed now (after a bulk UPDATE of what the APIs show of them)."""
    ids = sorted(set(user_ids))
    if ids:
        db.session.execute(update(StaffProfile).where(StaffProfile.user_id.in_(ids)).values(updated_at=utcnow())
                           .execution_options(synchronize_session=False))


@event.listens_for(Session, "before_flush")
def _mark_changed_accounts(session, _context, _instances) -> None:
    """An account whose shown fields change in this flush marks its profile changed in the same flush."""
    for obj in list(session.dirty):
        if not isinstance(obj, User):
            continue
        state = inspect(obj)
        if any(state.attrs[k].history.has_changes() for k in SHOWN):
            profile = obj.profile  # loaded without an autoflush: the session is flushing
            if profile is not None:
                profile.updated_at = utcnow()
