"""The back office's form to register a consuming system (接入系统) of the FHIR and JSON APIs."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional


def _strip(v):
    return v.strip() if isinstance(v, str) else v


class ApiClientForm(FlaskForm):
    """Name, scope (an institution subtree: picked like a supervising institution), expiry, the full-ID right."""

    name = StringField(_l("System name"), filters=[_strip], validators=[
        DataRequired(_l("Enter the name of the consuming system.")),
        Length(max=64, message=_l("Please enter at most %(max)d characters."))])
    parent_q = StringField(_l("Search the institution"), filters=[_strip],
                           validators=[Length(max=64, message=_l("Please enter at most %(max)d characters."))])
    parent_id = SelectField(_l("Institution scope"), choices=[], validate_choice=False,
                            validators=[DataRequired(_l("Please choose the institution whose subtree it may read."))])
    expires = DateField(_l("Valid until"), validators=[Optional()], format="%Y-%m-%d",
                        invalid_value_message=_l("Please enter a date as YYYY-MM-DD."))
    full_id = BooleanField(_l("May receive full ID numbers"))
