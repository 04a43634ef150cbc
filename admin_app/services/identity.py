"""Identity documents: validation per type, derived facts, encryption and masking."""
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from flask import current_app, has_app_context
from flask_babel import gettext as _
from stdnum.cn import ric
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength, ValidationError

from . import ServiceError, clock
from .crypto import blind_index, blind_indexes, encrypt

# Mainland passports: E/G + 8 digits, or E + letter + 7 digits; foreign passports: 5–17 letters and digits.
_PASSPORT = re.compile(r"^[A-Z0-9]{5,17}$")
# 港澳居民来往内地通行证: H or M + 8 (or 10) digits.
_HK_MACAU = re.compile(r"^[HM]\d{8}(\d{2})?$")
# 台湾居民来往大陆通行证: 8 digits (older cards: 10 digits, optionally with a letter suffix).
_TAIWAN = re.compile(r"^\d{8}(\d{2}[A-Z]?)?$")


class IdentityError(ServiceError):
    """The document number is not acceptable."""


@dataclass(frozen=True)
class ResidentIdFacts:
    number: str
    birth_date: date
    gender: str  # "male" | "female"
    region_code: str


def normalize(number: str) -> str:
    """Full-width to half-width, drop spaces and separators, upper-case (x → X)."""
    number = unicodedata.normalize("NFKC", number or "")
    return re.sub(r"[\s\-\u200b-\u200f\ufeff]", "", number).upper()


def age_bounds() -> tuple[int, int]:
    """(ID_MIN_AGE, ID_MAX_AGE): the youngest and oldest age, in whole years today, a registered worker can have."""
    config = current_app.config if has_app_context() else {}
    return int(config.get("ID_MIN_AGE", 16)), int(config.get("ID_MAX_AGE", 100))


def check_birth_date(birth: date, today: date | None = None, from_id: bool = False) -> None:
    """Refuse a birth date no worker can have: in the future, or under ID_MIN_AGE / over ID_MAX_AGE years old today.

    The one rule for every birth date, whether read from a resident ID (from_id) or typed beside another document.
    """
    today = today or clock.today()
    if birth > today:
        raise IdentityError(_("The ID number's birth date is in the future.") if from_id
                            else _("The date of birth cannot be in the future."))
    low, high = age_bounds()
    age = clock.years_since(birth, today)
    if low <= age <= high:
        return
    args = {"date": birth.isoformat(), "age": age, "min": low, "max": high}
    if from_id:
        raise IdentityError(_("By the birth date in this ID number (%(date)s) the holder is %(age)d years old; a "
                              "registered worker is from %(min)d to %(max)d. Please check the number.", **args))
    raise IdentityError(_("By this date of birth (%(date)s) you are %(age)d years old; a registered worker is from "
                          "%(min)d to %(max)d. Please check the date.", **args))


def adult_on(birth: date, years: int) -> date:
    """The day someone born on `birth` turns `years` old (born 29 February: 1 March in a common year)."""
    try:
        return birth.replace(year=birth.year + years)
    except ValueError:
        return date(birth.year + years, 3, 1)


def check_work_start(start: date, birth: date | None, today: date | None = None) -> None:
    """Refuse a work start in the future (Beijing today) or before the holder turned ID_MIN_AGE (16)."""
    today = today or clock.today()
    if start > today:
        raise IdentityError(_("The date you started working cannot be in the future."))
    if birth is None:
        return
    low = age_bounds()[0]
    earliest = adult_on(birth, low)
    if start < earliest:
        raise IdentityError(_("The date you started working cannot be before your %(n)dth birthday (%(date)s).",
                              n=low, date=earliest.isoformat()))


def check_resident_id(number: str, today: date | None = None, lookup: bool = False) -> ResidentIdFacts:
    """Validate an 18-digit resident ID (checksum, birth date, birthplace) and derive its facts.

    The holder's age must lie in the bounds of check_birth_date, except for a `lookup` of a number on file (a
    search, finding a user to authorize): a worker on file stays findable after his 101st birthday.
    """
    number = normalize(number)
    try:
        if len(number) != 18:
            raise InvalidLength()
        number = ric.validate(number)
    except InvalidChecksum as exc:
        raise IdentityError(_("The ID number's check digit is wrong; please check the number.")) from exc
    except InvalidLength as exc:
        raise IdentityError(_("A resident ID number has 18 characters.")) from exc
    except InvalidComponent as exc:
        raise IdentityError(_("The ID number's birth date or region code is not valid.")) from exc
    except (InvalidFormat, ValidationError) as exc:
        raise IdentityError(_("The ID number is not in a valid format.")) from exc
    birth = ric.get_birth_date(number)
    if lookup:
        if birth > (today or clock.today()):
            raise IdentityError(_("The ID number's birth date is in the future."))
    else:
        check_birth_date(birth, today, from_id=True)
    gender = "male" if int(number[16]) % 2 == 1 else "female"
    return ResidentIdFacts(number=number, birth_date=birth, gender=gender, region_code=number[:6])


def check_document(id_type: str, number: str, lookup: bool = False) -> str:
    """Validate a number for its document type; return the normalized number (`lookup`: see check_resident_id)."""
    number = normalize(number)
    if not number:
        raise IdentityError(_("Please enter the document number."))
    if id_type == "resident_id":
        return check_resident_id(number, lookup=lookup).number
    pattern = {"passport": _PASSPORT, "hk_macau_pass": _HK_MACAU, "taiwan_pass": _TAIWAN}.get(id_type)
    if pattern is None:
        raise IdentityError(_("Unknown document type."))
    if not pattern.match(number):
        raise IdentityError(_("The document number is not in a valid format for this document type."))
    return number


def mask(number: str) -> str:
    """Show the first 6 and last 3 characters: 110105*****654 (never more than half the number)."""
    number = normalize(number)
    if len(number) <= 6:
        return "*" * len(number)
    head, tail = (6, 3) if len(number) >= 12 else (2, 2)
    return number[:head] + "*****" + number[-tail:]


def index_for(id_type: str, number: str) -> str:
    """Blind index of a document under PII_KEY: the type is part of it so numbers are unique per type."""
    return blind_index(f"{id_type}:{normalize(number)}")


def indexes_for(id_type: str, number: str) -> list[str]:
    """The document's blind index under every key of the ring: lookups find rows not yet rotated to PII_KEY."""
    return blind_indexes(f"{id_type}:{normalize(number)}")


class KeyMismatch(ServiceError):
    """This node's PII key ring does not open the data: it must not seal numbers the other nodes cannot read."""


def ensure_key() -> None:
    """Raise KeyMismatch when this node's PII key ring does not open the stored data (it must not seal numbers)."""
    from .fingerprint import problem

    found = problem()
    if found:
        current_app.logger.error("identity number refused: %s", found)
        raise KeyMismatch(_("Document numbers cannot be saved on this server right now (its PII key does not "
                            "match the data). Please try again later or tell the system administrator."))


def sealed(id_type: str, number: str, key_checked: bool = False) -> dict:
    """Column values for storing a validated document: ciphertext, blind index and mask.

    `key_checked`: the caller called ensure_key() once for a whole batch (a staff import's chunk).
    """
    number = check_document(id_type, number)
    if not key_checked:
        ensure_key()
    return {
        "id_type": id_type,
        "id_number_enc": encrypt(number),
        "id_number_index": index_for(id_type, number),
        "id_number_masked": mask(number),
    }
