"""The staff grid's filters and ajax pickers, as Flask-Admin sees them (the audit grid reuses the generic ones).

Each filter of the staff grid names a criterion of services.staff_criteria (its `kind`) and checks the shape of a
value; the rows it selects are decided there, and the grid's get_list hands the criteria to
services.staff_listing. The generic text and date filters work on any column they are given.
"""
import re

from flask import g
from flask_admin.babel import lazy_gettext as admin_l
from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader
from flask_admin.contrib.sqla.filters import BaseSQLAFilter, BooleanEqualFilter
from flask_admin.model.filters import BaseDateBetweenFilter
from flask_babel import lazy_gettext as _l

from ..extensions import db
from ..models import Institution, Region, StaffProfile
from ..services.scope import current_scope
from ..services.staff_criteria import (
    STATUS_GROUPS,
    Criterion,
    ScopeFigures,
    condition,
    find_institutions,
    find_regions,
    local_days_condition,
    scoped_region,
    text_contains,
    text_equals,
    valid_unit_id,
)

STATUS_OPTIONS = (("reported", _l("Reported")), ("submitted", _l("Pending review")),
                  ("rejected_all", _l("Rejected (all levels)")), ("unit_rejected", _l("Rejected by unit")),
                  ("unit_approved", _l("Approved by unit")), ("rejected", _l("Rejected")),
                  ("approved", _l("Approved")))


def request_figures() -> ScopeFigures:
    """The signed-in admin's scope figures (counters, institutions looked up), read once per request."""
    if "hwr_figures" not in g:
        g.hwr_figures = ScopeFigures(current_scope())
    return g.hwr_figures


class CriterionFilter(BaseSQLAFilter):
    """A filter that stands for one criterion of services.staff_criteria (`kind`, or given to the constructor)."""

    kind = ""

    def __init__(self, column, name, options=None, data_type=None, kind: str | None = None):
        super().__init__(column, name, options=options, data_type=data_type)
        if kind:
            self.kind = kind

    def apply(self, query, value, alias=None):
        cond = condition(Criterion(self.kind, value), request_figures())
        return query if cond is None else query.filter(cond)

    def operation(self):
        return admin_l("equals")


class StatusFilter(CriterionFilter):
    """状态: one status or a card's group of statuses."""

    kind = "status"

    def __init__(self):
        super().__init__(StaffProfile.status, _l("Status"), options=STATUS_OPTIONS)

    def validate(self, value):
        return value in STATUS_GROUPS


class ChoiceFilter(CriterionFilter):
    """Equality on a coded column, offering only its codes."""

    def __init__(self, column, name, choices: dict):
        super().__init__(column, name, options=[(k, _l(v)) for k, v in choices.items()])
        self.choices = choices
        self.kind = column.key

    def validate(self, value):
        return value in self.choices


class TextEqualFilter(CriterionFilter):
    """Exact text (trimmed, at most 64 characters)."""

    def validate(self, value):
        return 0 < len(value.strip()) <= 64

    def apply(self, query, value, alias=None):
        return query.filter(text_equals(self.get_column(alias), value))


class TextContainsFilter(TextEqualFilter):
    """Text containing the value; % and _ in it are literal."""

    def apply(self, query, value, alias=None):
        return query.filter(text_contains(self.get_column(alias), value))

    def operation(self):
        return admin_l("contains")


class LocalDateBetweenFilter(CriterionFilter, BaseDateBetweenFilter):
    """A range of local calendar days over a UTC timestamp column (both ends included)."""

    def __init__(self, column, name, kind: str | None = None):
        super().__init__(column, name, data_type="daterangepicker", kind=kind)

    def apply(self, query, value, alias=None):
        return query.filter(local_days_condition(self.get_column(alias), value))

    def operation(self):
        return BaseDateBetweenFilter.operation(self)


class AnswerFilter(BooleanEqualFilter):
    """是/否 of one questionnaire answer."""

    @property
    def kind(self):
        return self.column.key


class ResubmittedFilter(CriterionFilter):
    """重新提交: profiles back for review after a reject or revert (what changed is on their card)."""

    kind = "resubmitted"

    def __init__(self):
        super().__init__(StaffProfile.resubmitted, _l("Resubmitted"), options=[("1", _l("Yes"))])

    def validate(self, value):
        return value == "1"


class InstitutionFilter(CriterionFilter):
    """单位: staff of one institution in scope and every institution below it (picked through an ajax lookup)."""

    kind = "institution"

    def __init__(self):
        super().__init__(StaffProfile.institution_id, _l("Work unit"))

    def validate(self, value):
        return valid_unit_id(value)

    def operation(self):
        return _l("in (with units below)")


class RegionFilter(CriterionFilter):
    """地区: staff of institutions in a region (a province or city includes the regions below it)."""

    kind = "region"

    def __init__(self):
        super().__init__(StaffProfile.institution_id, _l("Region"))

    def validate(self, value):
        return bool(re.fullmatch(r"[0-9]{6}", str(value or "")))


class ScopedInstitutionLoader(QueryAjaxModelLoader):
    """The ajax picker behind the 单位 filter: institutions in the admin's scope, by name or initials."""

    def __init__(self):
        super().__init__("institution", db, Institution, fields=["name"])

    def format(self, model):
        return (model.id, model.name) if model else None

    def get_list(self, term, offset=0, limit=10):
        return find_institutions(current_scope(), term, offset, limit)

    def get_one(self, pk):
        return request_figures().institution(pk)


class ScopedRegionLoader(QueryAjaxModelLoader):
    """The ajax picker behind the 地区 filter: regions that institutions in scope lie in."""

    def __init__(self):
        super().__init__("region", db, Region, fields=["name"])

    def format(self, model):
        return (model.code, model.name) if model else None

    def get_list(self, term, offset=0, limit=10):
        return find_regions(current_scope(), term, offset, limit)

    def get_one(self, pk):
        return scoped_region(current_scope(), pk)
