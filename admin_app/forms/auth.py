"""Sign-in form."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from .validators import CnMobile


class LoginForm(FlaskForm):
    phone = StringField(_l("Mobile phone"), validators=[DataRequired(_l("Please enter your mobile phone number.")),
                                                        CnMobile()])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Please enter your password.")),
                                                         Length(max=128)])
    captcha = StringField(_l("Image captcha"), validators=[Length(max=10)])
