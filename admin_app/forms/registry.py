"""Forms of the institution registry and delegation. Forms check shape; services.applications/grants decide.

Pages that need an SMS code carry a `send_sms` submit button (no JavaScript needed): the view sends the
code and re-renders the form with what was typed. Pickers (supervising institution, region) likewise have
a `find_parent` / `refresh` button; static/js/registry.js fills them in place when JavaScript runs.
"""
from flask_babel import gettext as _, lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from ..models.institution import CATEGORIES
from ..models.user import ID_TYPES
from .validators import CnMobile


def _strip(v):
    return v.strip() if isinstance(v, str) else v


def _max(n: int):
    return Length(max=n, message=_l("Please enter at most %(max)d characters."))


class SmsCodeMixin:
    sms_code = StringField(_l("SMS verification code"), validators=[Optional(), _max(10)], filters=[_strip],
                           render_kw={"inputmode": "numeric", "autocomplete": "one-time-code"})


class ApplyForm(FlaskForm):
    """补增申请 (new-institution registration): every field required."""

    name = StringField(_l("Institution name"), filters=[_strip],
                       validators=[DataRequired(_l("Please enter the institution name.")), _max(128)])
    uscc = StringField(_l("Unified social credit code"), filters=[_strip],
                       validators=[DataRequired(_l("Please enter the unified social credit code.")), _max(24)])
    parent_q = StringField(_l("Search the supervising institution"), filters=[_strip], validators=[_max(64)])
    parent_id = SelectField(_l("Supervising institution"), choices=[], validate_choice=False,
                            validators=[DataRequired(_l("Please choose the supervising institution from the "
                                                        "institution library."))])
    category = SelectField(_l("Institution category"), choices=[], validate_choice=False,
                           validators=[DataRequired(_l("Please choose the institution category."))])
    province = SelectField(_l("Province"), choices=[], validate_choice=False,
                           validators=[DataRequired(_l("Please choose the province."))])
    city = SelectField(_l("City"), choices=[], validate_choice=False,
                       validators=[DataRequired(_l("Please choose the city."))])
    county = SelectField(_l("County / district"), choices=[], validate_choice=False, validators=[Optional()])
    address = StringField(_l("Address"), filters=[_strip],
                          validators=[DataRequired(_l("Please enter the address.")), _max(255)])
    contact_name = StringField(_l("Contact person"), filters=[_strip],
                               validators=[DataRequired(_l("Please enter the contact person's name.")), _max(64)])
    contact_phone = StringField(_l("Contact mobile number"), filters=[_strip],
                                validators=[DataRequired(_l("Please enter the contact person's mobile number.")),
                                            CnMobile()], render_kw={"inputmode": "tel", "autocomplete": "tel"})
    sms_code = StringField(_l("SMS verification code"), filters=[_strip],
                           validators=[DataRequired(_l("Please enter the SMS verification code sent to the "
                                                       "contact phone.")), _max(10)],
                           render_kw={"inputmode": "numeric", "autocomplete": "one-time-code"})
    agree = BooleanField(_l("I have read and agree to the registration agreement"),
                         validators=[DataRequired(_l("Please read and agree to the registration agreement."))])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.category.choices = [("", _("Please choose"))] + [(k, _(v)) for k, v in CATEGORIES.items()]


class StatusPhoneForm(FlaskForm, SmsCodeMixin):
    """手机搜索: the contact phone and its SMS code."""

    phone = StringField(_l("Contact mobile number"), filters=[_strip],
                        validators=[DataRequired(_l("Please enter the contact person's mobile number.")), CnMobile()],
                        render_kw={"inputmode": "tel", "autocomplete": "tel"})


class StatusNameForm(FlaskForm):
    """详细搜索: supervising institution + full institution name."""

    parent_q = StringField(_l("Search the supervising institution"), filters=[_strip], validators=[_max(64)])
    parent_id = SelectField(_l("Supervising institution"), choices=[], validate_choice=False,
                            validators=[DataRequired(_l("Please choose the supervising institution from the "
                                                        "institution library."))])
    name = StringField(_l("Full institution name"), filters=[_strip],
                       validators=[DataRequired(_l("Please enter the full institution name.")), _max(128)])


class StepUpMixin:
    """Step-up verification: the sign-in password and an SMS code sent to one's own phone."""

    password = PasswordField(_l("Sign-in password"), validators=[Optional(), Length(max=128)],
                             render_kw={"autocomplete": "current-password"})
    sms_code = StringField(_l("SMS verification code (sent to your own phone)"), filters=[_strip],
                           validators=[Optional(), _max(10)],
                           render_kw={"inputmode": "numeric", "autocomplete": "one-time-code"})


class BindForm(FlaskForm, StepUpMixin):
    """/grants/bind: the authorization code (授权码) plus step-up."""

    code = StringField(_l("Authorization code"), filters=[_strip],
                       validators=[InputRequired(_l("Please enter the authorization code.")), _max(32)],
                       render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"})


class PersonMixin:
    """A person found by phone or by document number."""

    by = RadioField(_l("Find the person by"), choices=[], default="phone", validate_choice=False)
    phone = StringField(_l("Mobile number"), filters=[_strip], validators=[Optional(), _max(20)],
                        render_kw={"inputmode": "tel"})
    id_type = SelectField(_l("Document type"), choices=[], validate_choice=False, validators=[Optional()])
    id_number = StringField(_l("Document number"), filters=[_strip], validators=[Optional(), _max(32)],
                            render_kw={"autocomplete": "off"})

    def setup_person(self):
        self.by.choices = [("phone", _("Mobile number")), ("id", _("ID number"))]
        self.id_type.choices = [(k, _(v)) for k, v in ID_TYPES.items()]


def unique_ids(form, key) -> FlaskForm:
    """Suffix every field's id (and its label's for) with -<key>, for a form drawn once per row of a page; the names
    the form posts stay as they are."""
    for field in form:
        field.id = f"{field.id}-{key}"
        field.label.field_id = field.id
    return form


class AuthorizeForm(FlaskForm, StepUpMixin):
    """直接授权: a verified identity number (the issuer's step-up)."""

    id_type = SelectField(_l("Document type"), choices=[], validate_choice=False, validators=[Optional()])
    id_number = StringField(_l("ID number of the business manager"), filters=[_strip],
                            validators=[Optional(), _max(32)], render_kw={"autocomplete": "off"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.id_type.choices = [(k, _(v)) for k, v in ID_TYPES.items()]


class AssistantForm(FlaskForm, PersonMixin, StepUpMixin):
    """添加辅助管理员."""

    institution_id = HiddenField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.setup_person()


class TransferForm(FlaskForm, PersonMixin, StepUpMixin):
    """转移业务负责人."""

    institution_id = HiddenField()
    confirm = BooleanField(_l("I understand that I will no longer be the business manager of this institution"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.setup_person()


class RemoveAssistantForm(FlaskForm, StepUpMixin):
    """移除辅助管理员."""

    grant_id = HiddenField()


class ReasonForm(FlaskForm):
    """The reason of a rejected application (拒绝原因)."""

    reason = TextAreaField(_l("Reason"), filters=[_strip],
                           validators=[DataRequired(_l("Please give a reason.")), _max(500)])


class InstitutionMoveForm(FlaskForm):
    """Superuser: move an institution (and its subtree) under another supervising institution."""

    parent_q = StringField(_l("Search the new supervising institution"), filters=[_strip], validators=[_max(64)])
    parent_id = SelectField(_l("New supervising institution"), choices=[], validate_choice=False,
                            validators=[DataRequired(_l("Please choose the supervising institution from the "
                                                        "institution library."))])
