"""All models, imported here so Alembic and the app see one metadata."""
from . import search  # noqa: F401  (the search indexes' DDL hooks on staff_profile)
from .api_client import ApiClient
from .application import InstitutionApplication
from .audit import AuditLog
from .grant import AdminGrant
from .institution import Institution
from .job import ExportJob
from .notice import SmsNotice
from .preregistration import Preregistration
from .profile import (
    StaffProfile,
    StatusCounter,
    SubmissionCounter,
    SubtreeStatusCounter,
    SubtreeSubmissionCounter,
    SubtreeTypeCounter,
    TypeCounter,
)
from .programme import Programme
from .region import Region
from .review import ReviewEvent
from .session import UserSession
from .setting import AppSetting
from .sms import SmsCode
from .user import User
from .verification import IdentityVerification

__all__ = [
    "AdminGrant", "ApiClient", "AppSetting", "AuditLog", "ExportJob", "IdentityVerification", "Institution",
    "InstitutionApplication", "Preregistration", "Programme", "Region",
    "ReviewEvent", "SmsCode", "SmsNotice", "StaffProfile", "StatusCounter", "SubmissionCounter",
    "SubtreeStatusCounter", "SubtreeSubmissionCounter", "SubtreeTypeCounter", "TypeCounter", "User",
    "UserSession",
]
