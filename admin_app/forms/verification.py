"""Real-name verification form (/verify). The form checks shape; services.verification decides."""
from flask_babel import gettext as _, lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from ..models.user import ID_TYPES

IMAGE_ACCEPT = "image/jpeg,image/png"
_TOO_LONG = _l("Please enter at most %(max)d characters.")


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class VerifyForm(FlaskForm):
    # validate_choice off: services.verification answers an unknown type with its own message.
    id_type = SelectField(_l("Document type"), choices=[], validate_choice=False,
                          validators=[DataRequired(_l("Please choose a document type."))])
    name = StringField(_l("Name on the document"), filters=[_strip], validators=[
        DataRequired(_l("Please enter your name as shown on the document.")), Length(max=64, message=_TOO_LONG)])
    id_number = StringField(_l("Document number"), filters=[_strip], validators=[
        DataRequired(_l("Please enter the document number.")), Length(max=32, message=_TOO_LONG)])
    front_image = FileField(_l("Front of the document (photo page)"), render_kw={"accept": IMAGE_ACCEPT})
    back_image = FileField(_l("Back of the document"), render_kw={"accept": IMAGE_ACCEPT})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.id_type.choices = [(code, _(label)) for code, label in ID_TYPES.items()]
