"""Identity documents: validation per type, derived facts, encryption and masking."""
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from stdnum.cn import ric
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength, ValidationError

from . import ServiceError, clock
from .crypto import blind_index, encrypt

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


def check_resident_id(number: str, today: date | None = None) -> ResidentIdFacts:
    """Validate an 18-digit resident ID (checksum, birth date, birthplace) and derive its facts."""
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
    if birth > (today or clock.today()):
        raise IdentityError(_("The ID number's birth date is in the future."))
    gender = "male" if int(number[16]) % 2 == 1 else "female"
    return ResidentIdFacts(number=number, birth_date=birth, gender=gender, region_code=number[:6])


def check_document(id_type: str, number: str) -> str:
    """Validate a number for its document type; return the normalized number."""
    number = normalize(number)
    if not number:
        raise IdentityError(_("Please enter the document number."))
    if id_type == "resident_id":
        return check_resident_id(number).number
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
    """Blind index of a document: the type is part of it so numbers are unique per type."""
    return blind_index(f"{id_type}:{normalize(number)}")


def sealed(id_type: str, number: str) -> dict:
    """Column values for storing a validated document: ciphertext, blind index and mask."""
    number = check_document(id_type, number)
    return {
        "id_type": id_type,
        "id_number_enc": encrypt(number),
        "id_number_index": index_for(id_type, number),
        "id_number_masked": mask(number),
    }
