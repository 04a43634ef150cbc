"""Sign-in, sign-up, password forms. Forms check shape; services decide."""
import unicodedata

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from .validators import CnMobile, Password


class RealName:
    """Field validator: a person's name (letters of any script, spaces, the middle dot); strips the data."""

    def __call__(self, form, field):
        name = " ".join(unicodedata.normalize("NFKC", field.data or "").split())
        field.data = name
        if not name:
            raise ValidationError(_l("Please enter your real name."))
        if len(name) > 32:
            raise ValidationError(_l("The name must have at most %(n)d characters.", n=32))
        if not all(ch.isalpha() or ch in " ·•.-'" for ch in name):
            raise ValidationError(_l("The name may contain only letters, spaces and the middle dot."))


def _phone():
    return StringField(_l("Mobile phone"), validators=[DataRequired(_l("Please enter your mobile phone number.")),
                                                      CnMobile()])


def _new_password(label=None):
    return PasswordField(label or _l("Password"), validators=[DataRequired(_l("Please enter your password.")),
                                                              Password()])


def _confirm():
    return PasswordField(_l("Confirm password"), validators=[
        DataRequired(_l("Please enter the password again.")),
        EqualTo("password", message=_l("The two passwords do not match."))])


def _sms_code():
    return StringField(_l("Verification code"), validators=[DataRequired(_l("Please enter the verification code.")),

                        Length(max=12, message=_l("The verification code has 6 digits."))])


class LoginForm(FlaskForm):
    phone = _phone()
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Please enter your password.")),
                                                         Length(max=128)])
    captcha = StringField(_l("Image captcha"), validators=[Length(max=10)])


class SmsLoginForm(FlaskForm):
    """手机快捷登录: phone + a sign-in SMS code (+ the image captcha when it is on)."""

    phone = _phone()
    sms_code = _sms_code()
    captcha = StringField(_l("Image captcha"), validators=[Length(max=10)])


class RegisterForm(FlaskForm):
    name = StringField(_l("Real name"), validators=[RealName()])
    phone = _phone()
    password = _new_password()
    password_confirm = _confirm()
    sms_code = _sms_code()


class ForgotPasswordForm(FlaskForm):
    phone = _phone()
    sms_code = _sms_code()
    password = _new_password(_l("New password"))
    password_confirm = _confirm()


class ChangePasswordForm(FlaskForm):
    old_password = PasswordField(_l("Current password"), validators=[
        DataRequired(_l("Please enter your current password.")), Length(max=128)])
    password = _new_password(_l("New password"))
    password_confirm = _confirm()
