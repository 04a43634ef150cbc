"""The institution library, scoped."""
from flask_babel import lazy_gettext as _l

from ..models import Institution
from ..models.institution import CATEGORIES
from .base import SecureModelView
from .formatters import label, local_time


class InstitutionView(SecureModelView):
    column_list = ("name", "uscc", "category", "region", "parent", "created_at")
    column_details_list = ("name", "uscc", "category", "region", "address", "parent", "path",
                           "require_confirmation_code", "created_at")
    column_labels = {"name": _l("Institution name"), "uscc": _l("Unified social credit code"),
                     "category": _l("Category"), "region": _l("Region"), "parent": _l("Supervising institution"),
                     "created_at": _l("Created"), "address": _l("Address"), "path": _l("Tree path"),
                     "require_confirmation_code": _l("Requires confirmation code")}
    column_searchable_list = ("name", "name_initials", "uscc")
    column_filters = ("category",)
    column_default_sort = ("path", False)
    column_formatters = {"category": label(CATEGORIES, "category"), "created_at": local_time}
    column_formatters_detail = column_formatters

    def __init__(self, **kwargs):
        super().__init__(Institution, name=_l("Institutions"), endpoint="institution", **kwargs)
