"""Staff profiles (人员档案) and the per-institution status counters."""
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, false, func, literal_column, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..i18n import N_
from .types import UTCDateTime, utcnow

# Review statuses and their labels (the transitions live in services/review.py).
STATUSES = {
    "draft": N_("Incomplete"),
    "submitted": N_("Pending review"),
    "unit_rejected": N_("Rejected by unit"),
    "unit_approved": N_("Approved by unit"),
    "rejected": N_("Rejected"),
    "approved": N_("Approved"),
}
PERSONNEL_TYPES = {"sampling": N_("Sampling"), "testing": N_("Testing"), "both": N_("Sampling and testing")}
EDUCATIONS = {
    "secondary": N_("Secondary vocational"),
    "college": N_("Junior college"),
    "bachelor": N_("Bachelor"),
    "master": N_("Master"),
    "doctor": N_("Doctorate"),
    "other": N_("Other"),
}
TITLE_LEVELS = {"senior": N_("Senior"), "deputy_senior": N_("Deputy senior"), "intermediate": N_("Intermediate"),
                "junior": N_("Junior"), "none": N_("None")}
GENDERS = {"male": N_("Male"), "female": N_("Female")}

# yes/no questions per personnel type; field name -> label msgid, worded as the manual words them (第一章 5.).
# The form, the grid, the detail card and the export all read these so the questionnaire has one definition.
SAMPLING_QUESTIONS = {
    "sampling_full_time": N_("Works full time on sampling?"),
    "sampling_covid_training": N_("Attended COVID-19 nucleic acid sampling training?"),
    "sampling_biosafety_training": N_("Attended biosafety training?"),
    "currently_sampling": N_("Currently collecting COVID-19 nucleic acid samples?"),
}
TESTING_QUESTIONS = {
    "testing_full_time": N_("Works full time on laboratory testing?"),
    "lab_qualification": N_("Qualified to practise laboratory testing?"),
    "qualification_certificate": N_("Holds a laboratory practice qualification (title) certificate?"),
    "pcr_training": N_("Attended PCR training?"),
    "pcr_certificate": N_("Holds a PCR qualification certificate?"),
    "doing_pcr": N_("Works on PCR?"),
    "covid_testing_training": N_("Attended COVID-19 nucleic acid testing training?"),
    "covid_testing_certificate": N_("Holds a COVID-19 nucleic acid testing qualification certificate?"),
    "biosafety_post_certificate": N_("Has a biosafety post certificate?"),
    "currently_covid_testing": N_("Currently doing COVID-19 nucleic acid testing?"),
}
# The manual's starred (*) items: the answers a profile cannot be saved without. The others may stay blank.
REQUIRED_QUESTIONS = frozenset({"pcr_training", "pcr_certificate", "doing_pcr", "biosafety_post_certificate",
                                "currently_covid_testing"})
# The stored codes stay yes/no (True/False); what is shown differs: certificates are answered 有/无, the rest 是/否.
YES_NO = {"yes": N_("Yes"), "no": N_("No")}
HAS_NONE = {"yes": N_("Holds one"), "no": N_("Holds none")}
CERTIFICATE_QUESTIONS = frozenset({"qualification_certificate", "pcr_certificate", "covid_testing_certificate"})


def answer_words(field: str) -> dict[str, str]:
    """The two answer msgids a question offers, keyed by the stored code (yes/no)."""
    return HAS_NONE if field in CERTIFICATE_QUESTIONS else YES_NO


def answer_label(field: str, value: bool | None) -> str | None:
    """The msgid of a stored answer (True/False) to one question; None when unanswered."""
    if value is None:
        return None
    return answer_words(field)["yes" if value else "no"]


class StaffProfile(db.Model):
    """One per user. name/phone/department/institution_id mirror the account so the grid reads one table."""

    __tablename__ = "staff_profile"
    __table_args__ = (
        # id last: the grid's order is (submitted_at, id), so a unit's page is read from this index alone
        # (PostgreSQL index-only scan; SQLite keeps the rowid in every index anyway).
        Index("ix_staff_profile_inst_status_submitted", "institution_id", "status", "submitted_at", "id"),
        Index("ix_staff_profile_status_submitted", "status", "submitted_at", "id"),
        Index("ix_staff_profile_submitted", "submitted_at", "id"),
        # The machine APIs' incremental sync (_lastUpdated, updated_since) pages in (updated_at, id) order: a sync
        # that finds few changes reads just them (services.api_search).
        Index("ix_staff_profile_updated", "updated_at", "id"),
        # The grid's sorted orders, (key, id) each, so a page after a cursor is one index range (the coalesced
        # keys' indexes follow the class: services.staff_listing.sort_key).
        Index("ix_staff_profile_name", "name", "id"),
        Index("ix_staff_profile_phone", "phone", "id"),
        # The 重新提交 filter: only resubmitted rows are in it, so it stays small and costs the others nothing.
        Index("ix_staff_profile_resubmitted", "submitted_at", "id", postgresql_where=text("resubmitted"),
              sqlite_where=text("resubmitted = 1")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), unique=True)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"))
    name: Mapped[str] = mapped_column(String(64), default="")
    phone: Mapped[str] = mapped_column(String(11), default="")
    department: Mapped[str | None] = mapped_column(String(64))

    personnel_type: Mapped[str | None] = mapped_column(String(16))
    gender: Mapped[str | None] = mapped_column(String(8))
    birth_date: Mapped[date | None] = mapped_column(Date)
    education: Mapped[str | None] = mapped_column(String(16))
    title_level: Mapped[str | None] = mapped_column(String(16))
    title: Mapped[str | None] = mapped_column(String(64))
    position: Mapped[str | None] = mapped_column(String(64))
    work_start_date: Mapped[date | None] = mapped_column(Date)
    avatar: Mapped[str | None] = mapped_column(String(64))

    sampling_full_time: Mapped[bool | None] = mapped_column(Boolean)
    sampling_covid_training: Mapped[bool | None] = mapped_column(Boolean)
    sampling_biosafety_training: Mapped[bool | None] = mapped_column(Boolean)
    currently_sampling: Mapped[bool | None] = mapped_column(Boolean)
    testing_full_time: Mapped[bool | None] = mapped_column(Boolean)
    lab_qualification: Mapped[bool | None] = mapped_column(Boolean)
    qualification_certificate: Mapped[bool | None] = mapped_column(Boolean)
    pcr_training: Mapped[bool | None] = mapped_column(Boolean)
    pcr_certificate: Mapped[bool | None] = mapped_column(Boolean)
    doing_pcr: Mapped[bool | None] = mapped_column(Boolean)
    pcr_years: Mapped[int | None] = mapped_column(Integer)
    covid_testing_training: Mapped[bool | None] = mapped_column(Boolean)
    covid_testing_certificate: Mapped[bool | None] = mapped_column(Boolean)
    biosafety_post_certificate: Mapped[bool | None] = mapped_column(Boolean)
    currently_covid_testing: Mapped[bool | None] = mapped_column(Boolean)

    status: Mapped[str] = mapped_column(String(16), default="draft")
    version: Mapped[int] = mapped_column(Integer, default=1)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    last_reason: Mapped[str | None] = mapped_column(Text)
    # Set when a rejected or reverted profile is submitted again, cleared by the next reject, revert or final
    # approval: the grid marks the row 重新提交 from its own columns, never a join or a query per row.
    resubmitted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    user = relationship("User", foreign_keys=[user_id], backref=db.backref("profile", uselist=False))
    institution = relationship("Institution")
    last_reviewer = relationship("User", foreign_keys=[last_reviewer_id])

    def __str__(self) -> str:
        return f"{self.name} {self.phone}"


# The staff grid's orders. The nullable and coded columns sort by coalesce(column, ''): NULL as empty text on both
# engines, and an index only that expression can use, never a filter on the plain column.
GRID_SORTS = ("name", "gender", "phone", "personnel_type", "department", "status", "submitted_at")
COALESCED_SORTS = ("gender", "personnel_type", "department", "status")


def grid_sort_key(column: str):
    """SQL: the grid's sort key of one of GRID_SORTS (what its indexes below are built on)."""
    key = getattr(StaffProfile, column)
    return func.coalesce(key, literal_column("''")) if column in COALESCED_SORTS else key


# The registry-wide order of each coalesced column (name, phone and report time have theirs in __table_args__), and
# a unit's own list in each order, (unit, key, id): its page is a range of one index, where the registry-wide order
# indexes would walk every unit's rows and the (unit, status) ranges read and sort all of its own.
for _column in COALESCED_SORTS:
    Index(f"ix_staff_profile_sort_{_column}", grid_sort_key(_column), StaffProfile.id)
for _column in GRID_SORTS:
    Index(f"ix_staff_profile_unit_{_column}", StaffProfile.institution_id, grid_sort_key(_column), StaffProfile.id)


class StatusCounter(db.Model):
    """Profiles per (institution, status), kept in the same transaction as every status change."""

    __tablename__ = "status_counter"

    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


class TypeCounter(db.Model):
    """Reported profiles (status other than draft) per (institution, status, personnel type).

    Kept next to StatusCounter in the same transaction as every status, unit or type change (services/review.py
    through services/counters.bump); the dashboard's per-child table and charts read it. personnel_type is ""
    when a profile has none.
    """

    __tablename__ = "status_type_counter"

    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    personnel_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


class SubmissionCounter(db.Model):
    """Reported profiles per (institution, local day of their latest submission): the dashboard's daily line.

    A resubmission moves the profile from its previous day to today, so the figures always equal a GROUP BY of
    the reported profiles on date(submitted_at) in the configured timezone (BABEL_DEFAULT_TIMEZONE).
    """

    __tablename__ = "submission_counter"

    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


# The same three counters summed over each institution's whole subtree (itself included): bumped for every
# ancestor in the same transaction as the own counters, so a national or provincial figure is one row read
# however many units lie below (services/counters.py; a move shifts them in services/library.move_institution).

class SubtreeStatusCounter(db.Model):
    """Profiles per (institution, status) of the institution and everything below it."""

    __tablename__ = "subtree_status_counter"

    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


class SubtreeTypeCounter(db.Model):
    """Reported profiles per (institution, status, personnel type) of the institution and everything below it."""

    __tablename__ = "subtree_type_counter"

    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    personnel_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


class SubtreeSubmissionCounter(db.Model):
    """Reported profiles per (institution, local day of their latest submission) of the subtree."""

    __tablename__ = "subtree_submission_counter"

    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)
