"""The review state machine. Staff forms, admin actions and CLI commands all move profiles through here.

A bulk transition is one conditional UPDATE (`WHERE id IN (...) AND status = :from AND <scope>`) plus one
bulk INSERT of review events and the counter deltas, in one transaction; it reports moved and skipped.
"""
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import and_, func, insert, or_, select, tuple_, update
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..i18n import N_
from ..models import Institution, ReviewEvent, StaffProfile
from ..models.profile import STATUSES
from ..models.types import utcnow
from . import ServiceError, notices, parse_ids, profile_changes
from .audit import client_ip, record
from .clock import local_day
from .counters import add, bump
from .scope import Scope, restrict

STAFF_EDITABLE = frozenset({"draft", "submitted", "unit_rejected", "rejected"})
LOCKED = frozenset({"unit_approved", "approved"})
REASON_MAX = 500
# Ids per UPDATE: far below SQLite's 32,766 bound parameters, and one statement for any page of the grid.
CHUNK = 5000


@dataclass(frozen=True)
class Transition:
    action: str  # approve | reject | revert
    level: int  # 1: the unit's own admins; 2: admins of strictly higher institutions
    from_status: str
    to_status: str
    needs_reason: bool


# (action, level) -> transitions; an action at one level may apply to several source statuses.
TRANSITIONS = (
    Transition("approve", 1, "submitted", "unit_approved", False),
    Transition("reject", 1, "submitted", "unit_rejected", True),
    Transition("revert", 1, "unit_approved", "unit_rejected", True),
    Transition("approve", 2, "unit_approved", "approved", False),
    Transition("reject", 2, "unit_approved", "rejected", True),
    Transition("revert", 2, "approved", "unit_rejected", True),
)
ACTIONS = ("approve", "reject", "revert")
# What a history line calls each event: a review says the status it gave (the badge's words), so a unit
# approval reads 单位审核已通过 and never the commission's 审核已通过.
EVENT_LABELS = {"submit": N_("Submitted for review"), "revert": N_("Approval reverted")}
LOCK_MESSAGES = {
    "unit_approved": N_("Approved by your unit; to change it, ask your unit's administrator to revert the approval."),
    "approved": N_("Approved by the institution; to change it, ask your unit to have the approval reverted."),
}


@dataclass
class TransitionResult:
    action: str
    requested: int
    moved: int = 0
    by_level: dict = field(default_factory=dict)  # level -> moved
    own: int = 0  # the reviewer's own profile among the rows: refused, left to another admin or the level above
    changed: int = 0  # rows whose version moved since the admin's page showed them: skipped

    @property
    def skipped(self) -> int:
        return self.requested - self.moved


def event_label(action: str, to_status: str | None) -> str:
    """The msgid a review history shows for an event: the status a review gave, else the action's name."""
    if action in ("approve", "reject") and to_status in STATUSES:
        return STATUSES[to_status]
    return EVENT_LABELS.get(action, action)


def lock_message(status: str | None) -> str:
    """Why a locked profile cannot be edited, in the words of the status it is locked in."""
    return _(LOCK_MESSAGES.get(status, LOCK_MESSAGES["approved"]))


def needs_reason(action: str) -> bool:
    """True when the action asks for a reason (reject, revert)."""
    return any(t.needs_reason for t in TRANSITIONS if t.action == action)


def check_reason(reason: str | None, required: bool) -> str | None:
    """Strip a review reason; refuse an empty one where required and one over 500 characters."""
    reason = (reason or "").strip()
    if required and not reason:
        raise ServiceError(_("Please give a reason."))
    if len(reason) > REASON_MAX:
        raise ServiceError(_("The reason must have at most %(n)d characters.", n=REASON_MAX))
    return reason or None


def _level_condition(level: int, scope: Scope):
    """Profiles this scope may act on at a level: level 1 its own institutions, level 2 strictly lower ones."""
    if level == 1:
        if scope.is_superuser:
            return None  # the platform superuser may act at either level everywhere
        if not scope.institution_ids:
            return StaffProfile.id.is_(None)
        return StaffProfile.institution_id.in_(scope.institution_ids)
    lower = select(Institution.id)
    if not scope.is_superuser:
        if not scope.paths:
            return StaffProfile.id.is_(None)
        lower = lower.where(or_(*[and_(Institution.path.like(p + "%"), Institution.path != p) for p in scope.paths]))
    else:
        lower = lower.where(Institution.parent_id.is_not(None))
    return StaffProfile.institution_id.in_(lower)


def levels_for(institution_id: int | None, path: str | None, scope: Scope) -> tuple[int, ...]:
    """The levels at which this scope reviews staff of one institution (same rule as _level_condition)."""
    # A path "/1/" is a root; "/1/7/" has a parent (the superuser's level 2 is "any institution with a parent").
    out = []
    if scope.is_superuser or (institution_id is not None and institution_id in scope.institution_ids):
        out.append(1)
    if path and (path.count("/") > 2 if scope.is_superuser else
                 any(path.startswith(p) and path != p for p in scope.paths)):
        out.append(2)
    return tuple(out)


def available(status: str, institution_id: int | None, path: str | None, scope: Scope,
              owner_id: int | None = None) -> list[Transition]:
    """Transitions this scope may apply to one profile now (the buttons of the detail page)."""
    if owner_id is not None and owner_id == scope.user_id:
        return []  # no one reviews himself
    levels = levels_for(institution_id, path, scope)
    seen, out = set(), []
    for t in TRANSITIONS:
        if t.level in levels and t.from_status == status and t.action not in seen:
            seen.add(t.action)
            out.append(t)
    return out


def offered_actions(rows, scope: Scope) -> list[str]:
    """The actions this scope can take on some of these rows ((status, institution_id, user_id) each): what the
    grid offers for the page it shows. A row of one's own institution is reviewed at level 1, a lower one at
    level 2 (the superuser: both); one's own profile is never one's to review."""
    own = set(scope.institution_ids)
    pairs = set()
    for status, institution_id, user_id in rows:
        if user_id is not None and user_id == scope.user_id:
            continue
        if scope.is_superuser:
            pairs.update({(status, 1), (status, 2)})
        else:
            pairs.add((status, 1 if institution_id in own else 2))
    return [a for a in ACTIONS if any(t.action == a and (t.from_status, t.level) in pairs for t in TRANSITIONS)]


def names_of(ids, scope: Scope, limit: int = 200) -> list[str]:
    """The names of the selected profiles this scope may see (the 驳回 / 退审 reason page lists who is selected)."""
    from .scope import restrict

    id_list = parse_ids(ids)[:limit]
    if not id_list:
        return []
    stmt = restrict(select(StaffProfile.name).where(StaffProfile.id.in_(id_list)), StaffProfile, scope)
    return list(db.session.scalars(stmt.order_by(StaffProfile.name, StaffProfile.id)))


def parse_row_versions(values) -> dict[int, int] | None:
    """The grid's `rowversion` values ("<id>:<version>", one per row of the page) as {id: version}; None when
    none came (outside callers post rowid only). Anything malformed is refused."""
    values = [v for v in (values or []) if v != ""]
    if not values:
        return None
    if len(values) > CHUNK:
        raise ServiceError(_("Invalid selection."))
    out = {}
    for raw in values:
        pid, sep, version = str(raw).partition(":")
        if not sep or not (pid.isascii() and pid.isdigit() and version.isascii() and version.isdigit()) \
                or len(pid) > 10 or len(version) > 9 or int(pid) > 2**31 - 1:
            raise ServiceError(_("Invalid selection."))
        out[int(pid)] = int(version)
    return out


def transition(action: str, ids, actor_id: int, scope: Scope, reason: str | None = None,
               levels: tuple[int, ...] = (1, 2), versions: dict | None = None) -> TransitionResult:
    """Apply `action` to the profiles with these ids that the scope may move; skip and count the rest."""
    # `versions` ({id: version}, optional) holds each row to the version the admin looked at (the card's form,
    # the grid's page), so a row another reviewer or a staff edit moved since is skipped instead of acted on
    # unseen. The actor's own profile is never moved: no one reviews himself.
    if action not in ACTIONS:
        raise ServiceError(_("Unknown action."))
    id_list = parse_ids(ids)
    requested = id_list
    result = TransitionResult(action=action, requested=len(id_list))
    steps = [t for t in TRANSITIONS if t.action == action and t.level in levels]
    reason = check_reason(reason, any(t.needs_reason for t in steps))
    if not id_list:
        return result
    own_id = db.session.scalar(select(StaffProfile.id).where(StaffProfile.user_id == actor_id))
    if own_id is not None and own_id in id_list:
        result.own = 1
        id_list = [i for i in id_list if i != own_id]
    now = utcnow()
    ip = client_ip()
    deltas: dict = {}
    type_deltas: dict = {}
    told = []  # (profile id, to_status) of every moved row: the notices sent after the commit
    for t in steps:
        lvl = _level_condition(t.level, scope)
        moved_ids = set()
        for start in range(0, len(id_list), CHUNK):
            chunk = id_list[start:start + CHUNK]
            cond = [StaffProfile.status == t.from_status]
            if versions is not None:
                pairs = [(i, int(versions[i])) for i in chunk if i in versions]
                if not pairs:
                    continue
                cond.append(tuple_(StaffProfile.id, StaffProfile.version).in_(pairs))
            else:
                cond.append(StaffProfile.id.in_(chunk))
            if lvl is not None:
                cond.append(lvl)
            values = dict(status=t.to_status, version=StaffProfile.version + 1, reviewed_at=now,
                          last_reviewer_id=actor_id, last_reason=reason)
            keep = t.to_status in profile_changes.SENT_BACK
            if keep or t.to_status == "approved":
                values["resubmitted"] = False  # the 重新提交 mark lasts until the profile is decided on again
            # RETURNING tells exactly which rows this statement moved, so a concurrent reviewer cannot be
            # double-counted: the row's status changed, so the second UPDATE's WHERE no longer matches it.
            # A decision that sends the profile back also reads the reviewed fields, kept as its snapshot.
            extra = profile_changes.snapshot_columns() if keep else []
            moved = db.session.execute(
                update(StaffProfile).where(*cond).values(**values)
                .returning(StaffProfile.id, StaffProfile.institution_id, StaffProfile.personnel_type,
                           StaffProfile.user_id, *extra)
                .execution_options(synchronize_session=False)).all()
            if not moved:
                continue
            who = profile_changes.identities({r[3] for r in moved}) if keep else {}
            db.session.execute(insert(ReviewEvent), [
                dict(profile_id=r[0], actor_id=actor_id, action=action, level=t.level, from_status=t.from_status,
                     to_status=t.to_status, reason=reason, ip=ip, created_at=now,
                     snapshot=profile_changes.snapshot(dict(zip(profile_changes.PROFILE_FIELDS, r[4:], strict=True)),
                                                       who.get(r[3])) if keep else None)
                for r in moved])
            told.extend((r[0], t.to_status) for r in moved)
            for pid, inst, ptype, *_rest in moved:
                moved_ids.add(pid)
                deltas[(inst, t.from_status)] = deltas.get((inst, t.from_status), 0) - 1
                deltas[(inst, t.to_status)] = deltas.get((inst, t.to_status), 0) + 1
                add(type_deltas, (inst, t.from_status, ptype or ""), -1)
                add(type_deltas, (inst, t.to_status, ptype or ""), 1)
        if moved_ids:
            result.moved += len(moved_ids)
            result.by_level[t.level] = result.by_level.get(t.level, 0) + len(moved_ids)
            id_list = [i for i in id_list if i not in moved_ids]
    if versions is not None and id_list:
        result.changed = _changed_since(id_list, versions)
    if result.moved:
        record(f"review_{action}", target_type="staff_profile", actor_id=actor_id,
               institution_id=scope.institution_ids[0] if scope.institution_ids else None,
               details={"moved": result.moved, "skipped": result.skipped, "own": result.own,
                        "changed": result.changed,
                        "levels": {str(k): v for k, v in sorted(result.by_level.items())},
                        "reason": reason, "first_ids": requested[:50]})
        # Counter rows in one fixed order, so two concurrent transitions cannot lock them crosswise; last before
        # the commit, since every transition in the country shares the root's subtree counters.
        bump({k: deltas[k] for k in sorted(deltas, key=lambda k: (k[0] is None, k[0] or 0, k[1]))}, types=type_deltas)
    db.session.commit()
    if told:
        # After the commit: a notice can neither hold up nor undo the decision (it never raises).
        notices.after_review(action, told, reason)
    return result


def _changed_since(id_list: list[int], versions: dict) -> int:
    """How many of these rows no longer have the version the admin's page showed (or no longer exist)."""
    seen = {i: int(versions[i]) for i in id_list if i in versions}
    now = {}
    keys = list(seen)
    for start in range(0, len(keys), CHUNK):
        now.update(db.session.execute(select(StaffProfile.id, StaffProfile.version)
                                      .where(StaffProfile.id.in_(keys[start:start + CHUNK]))).all())
    return sum(1 for i, v in seen.items() if now.get(i) != v)


def submit(profile: StaffProfile, actor_id: int, changes: dict | None = None) -> None:
    """Staff saved a complete profile: record the edit and (re)submit it for review.

    The caller has already applied the new values to `profile` in this session. The write is conditional on
    the status and version the staff member loaded, so an approval racing the edit wins cleanly: the edit is
    refused instead of slipping unreviewed changes into an approved profile.
    """
    from sqlalchemy import inspect
    from sqlalchemy.orm.base import NO_VALUE

    state = inspect(profile)

    def original(key):
        # The value loaded from the database, before the caller's changes (loaded_value is the current one).
        hist = state.attrs[key].history
        return (hist.deleted or hist.unchanged or [NO_VALUE])[0]

    loaded_version = original("version")
    loaded_status = original("status")
    if loaded_status in LOCKED:
        raise ServiceError(lock_message(loaded_status))
    now = utcnow()
    new_status = "submitted"
    from_status = loaded_status if profile.id is not None else None
    if profile.id is None:
        profile.status, profile.version, profile.submitted_at = new_status, 1, now
        db.session.add(profile)
        db.session.flush()
        deltas = {(profile.institution_id, new_status): 1}
        types = {(profile.institution_id, new_status, profile.personnel_type or ""): 1}
        days = {(profile.institution_id, local_day(now)): 1}
    else:
        if loaded_version is NO_VALUE or loaded_status is NO_VALUE:
            # Expired since it was loaded: there is no version to hold the write to, so refuse it.
            db.session.rollback()
            raise ServiceError(_("Your profile changed while you were editing (it may have been reviewed). "
                                 "Please reload and check before saving again."))
        values = {c.key: getattr(profile, c.key) for c in StaffProfile.__table__.columns
                  if c.key not in ("id", "status", "version", "submitted_at", "created_at")}
        values.update(status=new_status, version=loaded_version + 1, submitted_at=now, updated_at=now)
        if loaded_status in profile_changes.SENT_BACK:
            values["resubmitted"] = True  # back after a reject or revert: the grid marks it 重新提交
        old_inst = original("institution_id")
        old_type = original("personnel_type")
        old_submitted = original("submitted_at")
        db.session.expunge(profile)  # the conditional UPDATE below is the only write
        res = db.session.execute(
            update(StaffProfile)
            .where(StaffProfile.id == profile.id, StaffProfile.version == loaded_version,
                   StaffProfile.status.in_(STAFF_EDITABLE))
            .values(**values).execution_options(synchronize_session=False))
        if res.rowcount != 1:
            db.session.rollback()
            raise ServiceError(_("Your profile changed while you were editing (it may have been reviewed). "
                                 "Please reload and check before saving again."))
        if old_inst is NO_VALUE:
            old_inst = profile.institution_id
        # Summed, not a dict literal: re-submitting a pending profile is -1 and +1 on the same counter.
        deltas = {(old_inst, loaded_status): -1}
        key = (profile.institution_id, new_status)
        deltas[key] = deltas.get(key, 0) + 1
        old_type = profile.personnel_type if old_type is NO_VALUE else old_type
        types, days = {}, {}
        if loaded_status != "draft":
            add(types, (old_inst, loaded_status, old_type or ""), -1)
            if old_submitted is not NO_VALUE and old_submitted is not None:
                add(days, (old_inst, local_day(old_submitted)), -1)
        add(types, (profile.institution_id, new_status, profile.personnel_type or ""), 1)
        add(days, (profile.institution_id, local_day(now)), 1)
    db.session.execute(insert(ReviewEvent), [dict(
        profile_id=profile.id, actor_id=actor_id, action="submit", level=None,
        from_status=from_status,
        to_status=new_status, changes=changes or None, ip=client_ip(), created_at=now)])
    bump(deltas, types=types, days=days)  # last before the commit: the root's subtree counters are shared
    db.session.commit()



def awaiting_unit_review(scope: Scope, ids) -> int:
    """How many of these rows are pending (submitted) in a unit in scope where this admin has no level 1."""
    id_list = list(ids or ())
    if scope.is_superuser or not id_list:
        return 0
    stmt = select(func.count()).select_from(StaffProfile).where(
        StaffProfile.id.in_(id_list[:CHUNK]), StaffProfile.status == "submitted",
        StaffProfile.institution_id.not_in(scope.institution_ids or [0]))
    return db.session.scalar(restrict(stmt, StaffProfile, scope)) or 0


def history(profile_id: int, limit: int) -> list[ReviewEvent]:
    """A profile's review events, newest first, with their actors (the staff card's 审核记录)."""
    return db.session.scalars(
        select(ReviewEvent).options(joinedload(ReviewEvent.actor))
        .where(ReviewEvent.profile_id == profile_id)
        .order_by(ReviewEvent.created_at.desc(), ReviewEvent.id.desc()).limit(limit)).all()


def reveal_id_number(profile: StaffProfile) -> str:
    """The profile's full document number, shown to an admin in scope; every look is audit-logged (committed).

    UndecryptableNumber (nothing recorded) when no key of this node's PII key ring opens it.
    """
    from .export import reveal_number

    user = profile.user
    full = reveal_number(user.id_number_enc)
    record("view_id_number", target_type="user", target_id=user.id, institution_id=profile.institution_id,
           details={"profile_id": profile.id})
    db.session.commit()
    return full
