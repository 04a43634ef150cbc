"""The staff card (/admin/staff/details/): one reported profile in scope, its review history and actions."""
from flask import abort, current_app, flash, make_response, redirect, request
from flask_admin import expose
from flask_babel import gettext as _, lazy_gettext as _l

from ..i18n import N_
from ..models import StaffProfile
from ..models.profile import (
    EDUCATIONS,
    GENDERS,
    PERSONNEL_TYPES,
    SAMPLING_QUESTIONS,
    STATUSES,
    TESTING_QUESTIONS,
    TITLE_LEVELS,
    answer_label,
)
from ..models.user import ID_TYPES
from ..services import profile_changes, review
from ..services.clock import local_text, practice_years, years_since
from ..services.export import COLUMNS as EXPORT_COLUMNS, UndecryptableNumber, region_paths
from ..services.scope import current_scope
from .formatters import STATUS_BADGES

LEVEL_NAMES = {1: _l("unit review"), 2: _l("institution review")}
HISTORY_MAX = 100
# Profile field -> label msgid, for the changed fields of a staff edit in the review history.
FIELD_LABELS = {src: msgid for msgid, _kind, src in EXPORT_COLUMNS if src not in ("id_type", "id_number_enc")}
FIELD_LABELS.update(id_number=N_("Document number"), avatar=N_("Avatar"), institution_id=N_("Institution"),
                    phone=N_("Mobile number"))


def _change_summary(changes: dict) -> str:
    """Changed fields of a staff edit, by their labels: 姓名、科室."""
    names = [_(FIELD_LABELS[k]) if k in FIELD_LABELS else k for k in sorted(changes or {})]
    return _(", ").join(names[:12]) + ("…" if len(names) > 12 else "")


class StaffCardMixin:
    """get_one, details_view and id_number_view of the staff grid (StaffProfileView)."""

    def get_one(self, id):
        """A reported profile in scope by id; anything else (including ids no row can have) is a 404."""
        text = str(id or "")
        if not text.isascii() or not text.isdigit() or int(text) > 2**31 - 1:
            abort(404)
        return super().get_one(text)

    @expose("/details/")
    def details_view(self):
        return_url = self._return_url()
        pk = request.args.get("id")
        if pk is None:
            return redirect(return_url)
        return self._card(self.get_one(pk), return_url)

    @expose("/details/id-number/", methods=("POST",))
    def id_number_view(self):
        """Show the full document number to an admin in scope; every look is audit-logged."""
        profile = self.get_one(request.form.get("id"))
        try:
            full = review.reveal_id_number(profile)
        except UndecryptableNumber as e:
            flash(str(e), "error")
            return self._card(profile, self._return_url())
        resp = make_response(self._card(profile, self._return_url(), full_id=full))
        resp.headers["Cache-Control"] = "no-store"
        return resp

    def _card(self, profile: StaffProfile, return_url: str, full_id: str | None = None):
        scope = current_scope()
        user = profile.user
        inst = profile.institution
        region_code = user.region_code or (inst.region_code if inst else None)
        history = review.history(profile.id, HISTORY_MAX)
        # Back after a reject or revert: what changed since that decision (old → new), read only for those.
        decision, changes = profile_changes.changes_since_decision(profile) if profile.resubmitted else (None, None)
        questions = []
        if profile.personnel_type in ("sampling", "both"):
            questions.append((_("Sampling information"), SAMPLING_QUESTIONS))
        if profile.personnel_type in ("testing", "both"):
            questions.append((_("Testing information"), TESTING_QUESTIONS))
        avatar_url = None
        if profile.avatar and "portal.avatar" in current_app.view_functions:
            avatar_url = self.get_url("portal.avatar", profile_id=profile.id)
        return self.render(
            self.details_template, model=profile, user=user, institution=inst, return_url=return_url,
            full_id=full_id, age=years_since(profile.birth_date), practice=practice_years(profile.work_start_date),
            region=region_paths([region_code]).get(region_code, "") if region_code else "",
            questions=questions, history=history, avatar_url=avatar_url, decision=decision, changes=changes,
            actions=review.available(profile.status, profile.institution_id, inst.path if inst else None, scope,
                                     owner_id=profile.user_id),
            own_profile=profile.user_id == scope.user_id,
            labels={"gender": GENDERS, "education": EDUCATIONS, "personnel_type": PERSONNEL_TYPES,
                    "title_level": TITLE_LEVELS, "status": STATUSES, "id_type": ID_TYPES},
            level_names=LEVEL_NAMES, reason_max=review.REASON_MAX, local=local_text, badges=STATUS_BADGES,
            event_label=review.event_label, answer_label=answer_label, change_summary=_change_summary)
