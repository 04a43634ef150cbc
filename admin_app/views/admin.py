"""Builds a fresh Flask-Admin for each app."""
from flask import Flask
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from flask_babel import lazy_gettext as _l

from .api_client import ApiClientView
from .application import ApplicationView
from .audit import AuditLogView
from .dashboard import DashboardView
from .grant import GrantView
from .institution import InstitutionView
from .preregistration import PreregistrationView
from .programme import ProgrammeView
from .security import csp_nonce
from .staff import StaffProfileView
from .verification import IdentityVerificationView


def init_admin(app: Flask) -> Admin:
    """Create the back office at /admin/ with the scoped views."""
    admin = Admin(
        app,
        name=_l("Health Workforce Registry"),
        theme=Bootstrap4Theme(base_template="admin/hwr_base.html", swatch="cerulean", fluid=True),
        index_view=DashboardView(name=_l("Dashboard"), url="/admin"),
        csp_nonce_generator=csp_nonce,
    )
    admin.add_view(StaffProfileView())
    admin.add_view(InstitutionView())
    admin.add_view(ApplicationView())
    admin.add_view(GrantView())
    admin.add_view(PreregistrationView())
    admin.add_view(IdentityVerificationView())
    admin.add_view(AuditLogView())
    admin.add_view(ProgrammeView())
    admin.add_view(ApiClientView())
    return admin
