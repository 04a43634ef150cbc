"""Staff self-service rules: what the account and profile pages may save, and how edits reach review."""
# The rules (the forms only check shape):
# - A profile in a locked state (unit_approved, approved) cannot be changed from the account or profile page;
#   the unit has to revert the approval first (review.LOCKED).
# - The profile mirrors the account's name, phone, department and institution so the grid reads one table.
#   Changing one of those on a profile already sent for review sends it for review again through
#   review.submit (a changed unit moves it to the new unit's queue with its count); a draft is just updated.
# - Saving a complete profile submits it (review.submit, conditional on the version the form was loaded with).
# - The identity document is changed only through verification.update_identity, which holds the identity rules
#   (one identity per account, refused while a verification is pending, a verified number changed goes back to
#   review); here: gender and birth date derived from a resident ID, and the masked change in the review event.
import re
import unicodedata
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Institution, Region, StaffProfile, User
from ..models.profile import (
    EDUCATIONS,
    GENDERS,
    PERSONNEL_TYPES,
    REQUIRED_QUESTIONS,
    SAMPLING_QUESTIONS,
    TESTING_QUESTIONS,
    TITLE_LEVELS,
)
from ..models.user import ID_TYPES
from . import ServiceError, clock
from .audit import record
from .codes import normalize_code
from .counters import bump
from .crypto import decrypt
from .identity import IdentityError, check_birth_date, check_resident_id, check_work_start, mask
from .review import LOCKED, STAFF_EDITABLE, lock_message, submit
from .uploads import image_path, move_image, save_image
from .verification import taken_message, update_identity

MIRRORED = ("name", "department", "institution_id")  # account fields copied onto the profile
PCR_YEARS_MAX = 60
QUESTIONS = {**SAMPLING_QUESTIONS, **TESTING_QUESTIONS}


class FieldErrors(ServiceError):
    """Several fields were refused: field name -> message."""

    def __init__(self, errors: dict[str, str], pending: str | None = None):
        super().__init__(next(iter(errors.values())))
        self.errors = errors
        self.pending = pending  # the chosen photo, kept for the next save (uploads kind "pending")


def locked_message(status: str | None = None) -> str:
    """Why an approved profile is read-only, in the words of its status (unit or institution approval)."""
    return lock_message(status)


def is_locked(user: User) -> bool:
    """True while the user's profile is approved at some level (the forms are read-only then)."""
    profile = user.profile
    return profile is not None and profile.status in LOCKED


def can_edit(user: User) -> bool:
    """Staff may edit their account and profile before review and after a rejection or revert."""
    return user.profile is None or user.profile.status in STAFF_EDITABLE


def questions_for(personnel_type: str | None) -> dict[str, str]:
    """The yes/no questions a personnel type must answer."""
    out = {}
    if personnel_type in ("sampling", "both"):
        out.update(SAMPLING_QUESTIONS)
    if personnel_type in ("testing", "both"):
        out.update(TESTING_QUESTIONS)
    return out


# ---- account -------------------------------------------------------------------------------------------

def check_region(code: str | None) -> Region:
    """A county, or a city without counties below it, from the region table."""
    code = (code or "").strip()
    region = db.session.get(Region, code) if code else None
    if region is None:
        raise ServiceError(_("Please choose your region down to the district or county."))
    if region.level == "province":
        raise ServiceError(_("Please choose your region down to the district or county."))
    if region.level == "city" and db.session.scalar(select(Region.code).where(Region.parent_code == code).limit(1)):
        raise ServiceError(_("Please choose your region down to the district or county."))
    return region


def save_account(user: User, *, name: str, email: str | None, region_code: str | None,
                 institution_id: int | None, confirmation_code: str | None, department: str | None) -> bool:
    """Save the account page; returns True when the change sent the profile for review again."""
    profile = user.profile
    if profile is not None and profile.status in LOCKED:
        raise ServiceError(locked_message(profile.status))
    errors = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = _("Please enter your real name.")
    try:
        region = check_region(region_code)
    except ServiceError as e:
        errors["region_code"] = str(e)
        region = None
    inst = db.session.get(Institution, institution_id) if institution_id else None
    if inst is None:
        errors["institution_id"] = _("Please search for and choose your unit.")
    elif inst.id != user.institution_id and inst.require_confirmation_code:
        given = normalize_code(confirmation_code or "")
        if not given:
            errors["confirmation_code"] = _(
                "This unit requires its unit confirmation code; ask your unit's administrator.")
        elif given != normalize_code(inst.confirmation_code):
            errors["confirmation_code"] = _("The unit confirmation code is wrong.")
    if errors:
        raise FieldErrors(errors)
    new = {"name": name, "department": (department or "").strip() or None, "institution_id": inst.id}
    old_account = {k: getattr(user, k) for k in ("name", "email", "region_code", "institution_id", "department")}
    user.name, user.department, user.institution_id = new["name"], new["department"], new["institution_id"]
    user.email = (email or "").strip() or None
    user.region_code = region.code
    changed = sorted(k for k, v in old_account.items() if getattr(user, k) != v)
    if changed:
        record("account_update", target_type="user", target_id=user.id, institution_id=inst.id, actor_id=user.id,
               details={"fields": changed})
    if profile is None:
        db.session.commit()
        return False
    changes = {k: [getattr(profile, k), new[k]] for k in MIRRORED if getattr(profile, k) != new[k]}
    if not changes:
        db.session.commit()
        return False
    if profile.status == "draft":
        # Not yet reviewable, so there is nothing to race: update the mirror and move the draft's count.
        old_inst = profile.institution_id
        for k, v in new.items():
            setattr(profile, k, v)
        if old_inst != profile.institution_id:
            bump({(old_inst, "draft"): -1, (profile.institution_id, "draft"): 1})
        db.session.commit()
        return False
    # A move to another unit is part of the resubmission: review.submit moves its counts along.
    for k, v in new.items():
        setattr(profile, k, v)
    submit(profile, user.id, changes)  # conditional on the loaded status/version; commits or raises
    return True


# ---- profile -------------------------------------------------------------------------------------------

def _parse_pcr_years(raw) -> int | None:
    text = unicodedata.normalize("NFKC", str(raw if raw is not None else "")).strip()
    if not re.fullmatch(r"\d{1,3}", text) or not 0 < int(text) <= PCR_YEARS_MAX:
        return None
    return int(text)


def _jsonable(value):
    return value.isoformat() if isinstance(value, date) else value


def _stored_number(user: User) -> str | None:
    return decrypt(user.id_number_enc) if user.id_number_enc else None


def _identity(user: User, data: dict, errors: dict, today: date) -> tuple[tuple[str, str] | None, dict]:
    """Read the document fields: (id_type, number) to hand to verification.update_identity, or None to keep the
    document on file; and the facts a resident ID gives (gender, birth date)."""
    id_type = data.get("id_type") or user.id_type
    number = (data.get("id_number") or "").strip()
    facts: dict = {}
    if id_type not in ID_TYPES:
        errors["id_type"] = _("Please choose the document type.")
        return None, facts
    if not number:
        if not user.id_number_enc:
            errors["id_number"] = _("Please enter the document number.")
            return None, facts
        if id_type != user.id_type:
            errors["id_number"] = _("Please enter the document number again when changing the document type.")
            return None, facts
        if id_type == "resident_id":
            try:
                stored = check_resident_id(_stored_number(user), today=today)
            except IdentityError as e:  # a number stored before today's checks: ask for it again
                errors["id_number"] = str(e)
                return None, facts
            facts = {"gender": stored.gender, "birth_date": stored.birth_date}
        return None, facts
    if id_type == "resident_id":
        try:
            ric = check_resident_id(number, today=today)
        except IdentityError as e:
            errors["id_number"] = str(e)
            return None, facts
        number = ric.number
        facts = {"gender": ric.gender, "birth_date": ric.birth_date}
    return (id_type, number), facts


def _apply_identity(user: User, document: tuple[str, str] | None, errors: dict) -> list | None:
    """Change the document through verification.update_identity (the identity rules live there).

    Returns the masked [old, new] pair for the review event, or None when the document did not change.
    On a refusal the message goes to errors["id_number"] and nothing has been changed.
    """
    if document is None:
        return None
    old_masked = identity_masked(user)
    try:
        outcome = update_identity(user, *document, actor_id=user.id)
    except IntegrityError:  # the flush of a back-to-review request met another account's number
        db.session.rollback()
        errors["id_number"] = taken_message()
        return None
    except ServiceError as e:  # IdentityError included: the number is not valid for its type
        errors["id_number"] = str(e)
        return None
    if outcome == "unchanged":
        return None
    # Masked on both sides: review events never hold a raw document number.
    return [old_masked, user.id_number_masked]


def check_fields(user: User, data: dict, today: date) -> tuple[dict, dict, tuple[str, str] | None]:
    """The questionnaire's completeness rule, photo aside: (values to store, field -> message, the document to
    hand to update_identity or None). Nothing is written; the staff form and the staff import both ask it."""
    errors: dict[str, str] = {}
    new: dict = {}

    ptype = data.get("personnel_type")
    if ptype not in PERSONNEL_TYPES:
        errors["personnel_type"] = _("Please choose the personnel type.")
    new["personnel_type"] = ptype

    document, facts = _identity(user, data, errors, today)
    if facts:
        new.update(facts)
    elif (data.get("id_type") or user.id_type) in ID_TYPES and (data.get("id_type") or user.id_type) != "resident_id":
        if data.get("gender") not in GENDERS:
            errors["gender"] = _("Please choose the gender.")
        birth = data.get("birth_date")
        if not birth:
            errors["birth_date"] = _("Please enter the date of birth.")
        else:
            try:
                check_birth_date(birth, today)
            except IdentityError as e:
                errors["birth_date"] = str(e)
        new["gender"], new["birth_date"] = data.get("gender"), birth

    for key, choices, message in (("education", EDUCATIONS, _("Please choose the education.")),
                                  ("title_level", TITLE_LEVELS, _("Please choose the professional title level."))):
        if data.get(key) not in choices:
            errors[key] = message
        new[key] = data.get(key)
    title = (data.get("title") or "").strip()
    if new["title_level"] == "none":
        title = ""
    elif not title and "title_level" not in errors:
        errors["title"] = _("Please enter the professional title.")
    new["title"] = title or None
    new["position"] = (data.get("position") or "").strip() or None

    start = data.get("work_start_date")
    if not start:
        errors["work_start_date"] = _("Please enter the date you started working.")
    else:
        try:  # the holder's 16th birthday, when the birth date itself is acceptable
            check_work_start(start, None if "birth_date" in errors else new.get("birth_date"), today)
        except IdentityError as e:
            errors["work_start_date"] = str(e)
    new["work_start_date"] = start

    wanted = questions_for(ptype)
    for q in QUESTIONS:
        answer = data.get(q)
        if q in wanted:
            if answer not in ("yes", "no"):
                if q in REQUIRED_QUESTIONS or answer:
                    errors[q] = _("Please answer this question.")
                new[q] = None  # an unstarred question may stay blank
                continue
            new[q] = answer == "yes"
        else:
            new[q] = None  # the other type's answers are cleared, not kept hidden
    new["pcr_years"] = None
    if new.get("doing_pcr"):
        years = _parse_pcr_years(data.get("pcr_years"))
        if years is None:
            errors["pcr_years"] = _("Please enter the years of PCR work as a whole number from 1 to %(n)d.",
                                    n=PCR_YEARS_MAX)
        new["pcr_years"] = years

    return new, errors, document


def save_profile(user: User, data: dict, avatar_file=None, today: date | None = None,
                 pending_avatar: str | None = None) -> StaffProfile:
    """Validate the profile page and submit it for review; FieldErrors/ServiceError leave nothing written."""
    # `pending_avatar`: the photo a failed save kept (FieldErrors.pending), used when no new file comes.
    # `data`: version, id_type, id_number, gender, birth_date, personnel_type, education, title_level, title,
    # position, work_start_date (dates parsed by the form), pcr_years, and each question as "yes"/"no".
    today = today or clock.today()
    if not user.account_complete:
        raise ServiceError(_("Please complete your account information first."))
    profile = user.profile
    if profile is not None:
        if profile.status in LOCKED:
            raise ServiceError(locked_message(profile.status))
        if str(data.get("version") or "") != str(profile.version):
            raise ServiceError(_("Your profile changed while you were editing (it may have been reviewed). "
                                 "Please reload and check before saving again."))
    new, errors, document = check_fields(user, data, today)

    # The photo is checked first and kept aside, so a save refused for another field does not lose it.
    has_file = avatar_file is not None and getattr(avatar_file, "filename", "")
    chosen = None
    if has_file:
        try:
            chosen = save_image(avatar_file, "pending")
        except ServiceError as e:
            errors["avatar"] = str(e)
        else:
            if pending_avatar and pending_avatar != chosen:
                _discard(pending_avatar, None, kind="pending")
    elif pending_avatar and image_path("pending", pending_avatar) is not None:
        chosen = pending_avatar
    if chosen is None and "avatar" not in errors and not (profile is not None and profile.avatar):
        errors["avatar"] = _("Please upload an avatar photo.")
    # Last, so a refused number is reported together with the other fields. update_identity changes the
    # session only (it never commits); every refusal from here on rolls that back.
    id_change = _apply_identity(user, document, errors)
    if errors:
        db.session.rollback()
        raise FieldErrors(errors, pending=chosen)

    old_avatar = profile.avatar if profile is not None else None
    if chosen:
        new["avatar"] = move_image(chosen, "pending", "avatar")
    return _write(user, profile, new, id_change, old_avatar)


def _write(user: User, profile: StaffProfile | None, new: dict, id_change: list | None,
           old_avatar: str | None) -> StaffProfile:
    mirror = {"name": user.name, "phone": user.phone, "department": user.department,
              "institution_id": user.institution_id}
    if profile is None:
        profile = StaffProfile(user_id=user.id, **mirror)
        changes = None
    else:
        changes = {k: [_jsonable(getattr(profile, k)), _jsonable(v)]
                   for k, v in {**mirror, **new}.items() if getattr(profile, k) != v}
    if id_change and changes is not None:
        changes["id_number"] = id_change
    for k, v in {**mirror, **new}.items():
        setattr(profile, k, v)
    try:
        submit(profile, user.id, changes)  # commits the identity change with the profile, or nothing
    except IntegrityError as exc:  # uq_user_identity: another account took the number at the same moment
        db.session.rollback()
        _discard(new.get("avatar"), old_avatar)
        raise FieldErrors({"id_number": taken_message()}) from exc
    except ServiceError:
        db.session.rollback()
        _discard(new.get("avatar"), old_avatar)
        raise
    if new.get("avatar") and old_avatar and old_avatar != new["avatar"]:
        _discard(old_avatar, None)
    return profile


def _discard(name: str | None, keep: str | None, kind: str = "avatar") -> None:
    """Remove a stored avatar nobody points at any more (demo avatars are shared: never removed)."""
    if not name or name == keep or name.startswith("demo-"):
        return
    path = image_path(kind, name)
    if path is not None:
        path.unlink(missing_ok=True)


def identity_masked(user: User) -> str | None:
    """The user's document number as shown to them: masked."""
    return user.id_number_masked or (mask(_stored_number(user)) if user.id_number_enc else None)


def get_profile(profile_id: int) -> StaffProfile | None:
    """The staff profile with this id (an id no row can have: None, not a database error)."""
    from . import row_id

    pk = row_id(profile_id)
    return db.session.get(StaffProfile, pk) if pk is not None else None
