"""Validators shared by the forms."""
import unicodedata

import phonenumbers
from flask_babel import lazy_gettext as _l
from wtforms.validators import ValidationError


def normalize_phone(raw: str) -> str | None:
    """An 11-digit CN mobile number from what people type (full-width digits, spaces, +86), or None."""
    text = unicodedata.normalize("NFKC", raw or "").strip()
    text = "".join(ch for ch in text if not ch.isspace() and ch not in "-\u200b\u200c\u200d\ufeff")
    if not text or len(text) > 20:
        return None
    try:
        num = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return None
    if num.country_code != 86 or not phonenumbers.is_valid_number(num):
        return None
    if phonenumbers.number_type(num) not in (phonenumbers.PhoneNumberType.MOBILE,
                                             phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        return None
    national = str(num.national_number)
    return national if len(national) == 11 else None


def normalize_email(raw: str) -> str | None:
    """An email address checked by email-validator (syntax only: no DNS look-up), in its normalized form, or
    None when it is not one or is longer than the account's column (120)."""
    from email_validator import EmailNotValidError, validate_email

    text = unicodedata.normalize("NFKC", raw or "").strip()
    if not text or len(text) > 120:
        return None
    try:
        email = validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        return None
    return email if len(email) <= 120 else None


class CnMobile:
    """Field validator: a CN mobile number; replaces the data with its 11-digit form."""

    def __init__(self, message=None):
        self.message = message or _l("Please enter a valid mainland China mobile number.")

    def __call__(self, form, field):
        phone = normalize_phone(field.data or "")
        if phone is None:
            raise ValidationError(self.message)
        field.data = phone


class Password:
    """Field validator: the password rules of services.accounts."""

    def __call__(self, form, field):
        from ..services.accounts import password_problem

        problem = password_problem(field.data or "")
        if problem:
            raise ValidationError(problem)
