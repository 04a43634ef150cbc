"""Account and profile forms. Shape only: which values are required and how they relate is services.profiles."""
import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, HiddenField, RadioField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import Length, Optional, Regexp

from ..models.profile import (
    EDUCATIONS,
    GENDERS,
    PERSONNEL_TYPES,
    SAMPLING_QUESTIONS,
    TESTING_QUESTIONS,
    TITLE_LEVELS,
    answer_words,
)
from ..models.user import ID_TYPES
from ..services import row_id
from .auth import RealName

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _too_long(n: int):
    return Length(max=n, message=_l("This entry must have at most %(n)d characters.", n=n))


def _date_field(label):
    return DateField(label, validators=[Optional()], format="%Y-%m-%d",
                     invalid_value_message=_l("Please enter a date as YYYY-MM-DD."))


def _choices(mapping):
    # Lazy: the label is translated when the page renders, in the reader's language.
    return [SelectChoice(k, _l(v)) for k, v in mapping.items()]


class AccountForm(FlaskForm):
    name = StringField(_l("Real name"), validators=[RealName()])
    email = StringField(_l("Email"), validators=[Optional(), _too_long(120),
                                                 Regexp(_EMAIL, message=_l("Please enter a valid email address."))])
    province = SelectField(_l("Province"), choices=[], validate_choice=False, validators=[Optional()])
    city = SelectField(_l("City"), choices=[], validate_choice=False, validators=[Optional()])
    region_code = SelectField(_l("District / county"), choices=[], validate_choice=False, validators=[Optional()])
    institution_q = StringField(_l("Search for your unit"), validators=[Optional(), _too_long(64)])
    institution_id = SelectField(_l("Institution"), choices=[], coerce=row_id, validate_choice=False,
                                 validators=[Optional()])
    confirmation_code = StringField(_l("Unit confirmation code"), validators=[Optional(), _too_long(32)])
    department = StringField(_l("Department"), validators=[Optional(), _too_long(64)])


class ProfileForm(FlaskForm):
    version = HiddenField()
    id_type = SelectField(_l("Document type"), choices=_choices(ID_TYPES), validate_choice=False,
                          validators=[Optional()])
    id_number = StringField(_l("Document number"), validators=[Optional(), _too_long(32)])
    gender = RadioField(_l("Gender"), choices=_choices(GENDERS), validate_choice=False, validators=[Optional()])
    birth_date = _date_field(_l("Date of birth"))
    personnel_type = RadioField(_l("Personnel type"), choices=_choices(PERSONNEL_TYPES), validate_choice=False,
                                validators=[Optional()])
    education = SelectField(_l("Education"), choices=[SelectChoice("", "")] + _choices(EDUCATIONS),
                            validate_choice=False, validators=[Optional()])
    title_level = SelectField(_l("Professional title level"), choices=[SelectChoice("", "")] + _choices(TITLE_LEVELS),
                              validate_choice=False, validators=[Optional()])
    title = StringField(_l("Professional title"), validators=[Optional(), _too_long(64)])
    position = StringField(_l("Position"), validators=[Optional(), _too_long(64)])
    work_start_date = _date_field(_l("Started working on"))
    pcr_years = StringField(_l("Years of PCR work (a positive whole number)"), validators=[Optional(), _too_long(8)])
    avatar = FileField(_l("Avatar photo"))

    def data_for_service(self) -> dict:
        """The values services.profiles.save_profile reads."""
        keys = ("version", "id_type", "id_number", "gender", "birth_date", "personnel_type", "education",
                "title_level", "title", "position", "work_start_date", "pcr_years", *QUESTION_FIELDS)
        return {k: getattr(self, k).data for k in keys}


QUESTION_FIELDS = (*SAMPLING_QUESTIONS, *TESTING_QUESTIONS)
for _name, _label in {**SAMPLING_QUESTIONS, **TESTING_QUESTIONS}.items():
    setattr(ProfileForm, _name, RadioField(_l(_label), choices=_choices(answer_words(_name)), validate_choice=False,
                                           validators=[Optional()]))
