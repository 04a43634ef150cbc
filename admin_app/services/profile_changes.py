"""What a staff member changed since the decision that sent the profile back (驳回 / 退审).

A reject or revert stores the reviewed fields as decided on (`snapshot`, on each of its review events); when the
profile comes back, the staff card compares that snapshot with the profile now, field by field (old → new), in the
words the card uses. Document numbers are kept and shown masked only, with their blind index to tell a change.
"""
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..i18n import N_
from ..models import Institution, ReviewEvent, StaffProfile, User
from ..models.profile import (
    EDUCATIONS,
    GENDERS,
    PERSONNEL_TYPES,
    SAMPLING_QUESTIONS,
    TESTING_QUESTIONS,
    TITLE_LEVELS,
    answer_label,
)
from ..models.user import ID_TYPES

QUESTIONS = {**SAMPLING_QUESTIONS, **TESTING_QUESTIONS}
# Reviewed field -> label msgid, in the card's order. The phone is the login and never changes: left out.
LABELS = {
    "name": N_("Name"), "id_type": N_("Document type"), "id_number": N_("Document number"),
    "gender": N_("Gender"), "birth_date": N_("Date of birth"), "institution_id": N_("Work unit"),
    "department": N_("Department"), "personnel_type": N_("Personnel type"), "education": N_("Education"),
    "title_level": N_("Title level"), "title": N_("Professional title"), "position": N_("Position"),
    "work_start_date": N_("Started working"), "avatar": N_("Avatar"), **QUESTIONS,
    "pcr_years": N_("Years of PCR work"),
}
PROFILE_FIELDS = tuple(k for k in LABELS if k not in ("id_type", "id_number"))
CODED = {"gender": GENDERS, "personnel_type": PERSONNEL_TYPES, "education": EDUCATIONS, "title_level": TITLE_LEVELS,
         "id_type": ID_TYPES}
SENT_BACK = frozenset({"unit_rejected", "rejected"})  # a decision to one of these keeps a snapshot


@dataclass(frozen=True)
class Change:
    field: str
    label: str
    old: str
    new: str


def snapshot_columns() -> list:
    """The staff_profile columns a snapshot keeps (an UPDATE … RETURNING of a transition reads them)."""
    return [getattr(StaffProfile, f) for f in PROFILE_FIELDS]


def _plain(value):
    return value.isoformat() if isinstance(value, date) else value


def identities(user_ids) -> dict[int, tuple]:
    """user id -> (id_type, blind index, masked number), one query per 5,000 users."""
    ids, out = list(user_ids), {}
    for start in range(0, len(ids), 5000):
        out.update({uid: (t, idx, masked) for uid, t, idx, masked in db.session.execute(
            select(User.id, User.id_type, User.id_number_index, User.id_number_masked)
            .where(User.id.in_(ids[start:start + 5000])))})
    return out


def snapshot(values: dict, identity: tuple | None) -> dict:
    """The JSON a review event keeps: the reviewed profile fields and the document (type, index, masked)."""
    out = {f: _plain(values.get(f)) for f in PROFILE_FIELDS}
    id_type, index, masked = identity or (None, None, None)
    out.update(id_type=id_type, id_number_index=index, id_number=masked)
    return out


def current(profile: StaffProfile) -> dict:
    """The profile as it is now, in the shape of a snapshot."""
    user = profile.user
    return snapshot({f: getattr(profile, f) for f in PROFILE_FIELDS},
                    (user.id_type, user.id_number_index, user.id_number_masked) if user else None)


def last_decision(profile_id: int) -> ReviewEvent | None:
    """The latest review event that sent the profile back (None: there is none)."""
    return db.session.scalars(
        select(ReviewEvent).where(ReviewEvent.profile_id == profile_id, ReviewEvent.to_status.in_(SENT_BACK),
                                  ReviewEvent.action.in_(("reject", "revert")))
        .order_by(ReviewEvent.created_at.desc(), ReviewEvent.id.desc()).limit(1)).first()


def diff(before: dict, after: dict) -> list[str]:
    """The fields that differ, in the card's order (the document by its blind index)."""
    out = []
    for field in LABELS:
        if field == "id_number":
            if before.get("id_number_index") != after.get("id_number_index"):
                out.append(field)
        elif before.get(field) != after.get(field):
            out.append(field)
    return out


def _text(field: str, value, institutions: dict) -> str:
    if value is None or value == "":
        return "—"
    if field in CODED:
        return _(CODED[field][value]) if value in CODED[field] else str(value)
    if field in QUESTIONS:
        return _(answer_label(field, value))
    if field == "institution_id":
        return institutions.get(value, "—")
    return str(value)


def changes_since_decision(profile: StaffProfile) -> tuple[ReviewEvent | None, list[Change] | None]:
    """(the decision that sent the profile back, what changed since); changes None when it kept no snapshot
    (decided before snapshots were kept), (None, None) when there was no such decision."""
    event = last_decision(profile.id)
    if event is None or not event.snapshot:
        return event, None
    before, after = event.snapshot, current(profile)
    fields = diff(before, after)
    inst_ids = {v for v in (before.get("institution_id"), after.get("institution_id")) if v is not None}
    names = {}
    if "institution_id" in fields:
        names = dict(db.session.execute(select(Institution.id, Institution.name)
                                        .where(Institution.id.in_(inst_ids))).all())
    out = []
    for f in fields:
        old, new = _text(f, before.get(f), names), _text(f, after.get(f), names)
        if f == "avatar":
            old, new = (_("Earlier photo") if before.get(f) else "—"), (_("New photo") if after.get(f) else "—")
        out.append(Change(f, _(LABELS[f]), old, new))
    return event, out
