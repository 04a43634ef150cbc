"""Staff self-service: personal centre, account, profile, password, avatar. Thin: the rules are services.profiles."""
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms.fields import SelectChoice

from ..forms.auth import ChangePasswordForm
from ..forms.staff import QUESTION_FIELDS, AccountForm, ProfileForm
from ..i18n import N_
from ..models import Institution
from ..models.institution import CATEGORIES
from ..models.profile import (
    EDUCATIONS,
    GENDERS,
    PERSONNEL_TYPES,
    REQUIRED_QUESTIONS,
    SAMPLING_QUESTIONS,
    STATUSES,
    TESTING_QUESTIONS,
    TITLE_LEVELS,
    answer_label,
)
from ..models.user import ID_TYPES
from ..services import ServiceError, clock, profiles as svc, review
from ..services.accounts import change_password
from ..services.institutions import get_institution, search_institutions
from ..services.personal import centre_for
from ..services.regions import children as region_children, region_path
from ..services.review import event_label
from ..services.scope import scope_for
from ..services.uploads import image_path

bp = Blueprint("portal", __name__)

# Names of the fields a review event may list as changed.
FIELD_LABELS = {
    "name": N_("Real name"), "phone": N_("Mobile phone"), "department": N_("Department"),
    "institution_id": N_("Institution"), "personnel_type": N_("Personnel type"), "gender": N_("Gender"),
    "birth_date": N_("Date of birth"), "education": N_("Education"), "title_level": N_("Professional title level"),
    "title": N_("Professional title"), "position": N_("Position"), "work_start_date": N_("Started working on"),
    "avatar": N_("Avatar photo"), "pcr_years": N_("Years of PCR work"), "id_number": N_("Document number"),
    **SAMPLING_QUESTIONS, **TESTING_QUESTIONS,
}


@bp.before_request
@login_required
def _signed_in():
    """Every page here is for a signed-in person."""


def _attach(form, errors: dict) -> None:
    for name, message in errors.items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = list(field.errors) + [message]


# ---- personal centre ------------------------------------------------------------------------------------

@bp.get("/me")
def me():
    user = current_user
    if not user.account_complete:
        flash(_("Please complete your account information first."), "info")
        return redirect(url_for("portal.account"))
    profile = user.profile
    events = []
    if profile is not None:
        events = review.history(profile.id, 100)
    return render_template(
        "portal/me.html", user=user, profile=profile, events=events, region=_region_label(user.region_code),
        editable=svc.can_edit(user), locked=svc.is_locked(user), lock_text=_lock_text(user),
        id_masked=svc.identity_masked(user),
        years_since=clock.years_since, practice_years=clock.practice_years, statuses=STATUSES,
        event_label=event_label, id_types=ID_TYPES,
        ptypes=PERSONNEL_TYPES, educations=EDUCATIONS, title_levels=TITLE_LEVELS, genders=GENDERS,
        sampling=SAMPLING_QUESTIONS, testing=TESTING_QUESTIONS, questions_for=svc.questions_for,
        field_labels=FIELD_LABELS, answer_label=answer_label, centre=centre_for(user))


def _lock_text(user) -> str:
    """The lock notice of an approved profile, naming who approved it; empty while it is editable."""
    return svc.locked_message(user.profile.status) if svc.is_locked(user) else ""


def _region_label(code: str | None) -> str:
    """北京市 - 西城区: the region path, without a municipality's repeated name at the city level."""
    names = []
    for r in region_path(code):
        if not names or names[-1] != r.name:
            names.append(r.name)
    return " - ".join(names)


# ---- account --------------------------------------------------------------------------------------------

def _region_choices(form: AccountForm, user) -> None:
    """Fill the province → city → county selects from the submitted values or the saved region."""
    if request.method == "GET":
        path = region_path(user.region_code)
        form.province.data = path[0].code if len(path) > 0 else ""
        form.city.data = path[1].code if len(path) > 1 else ""
        form.region_code.data = user.region_code or ""

    def children(parent) -> list[tuple[str, str]]:
        return [(r.code, r.name) for r in region_children(parent)]

    def options(rows):
        return [SelectChoice("", _("Please choose"))] + [SelectChoice(code, name) for code, name in rows]

    cities = children(form.province.data) if form.province.data else []
    if form.city.data and form.city.data not in {c for c, _n in cities}:
        form.city.data = ""
    counties = children(form.city.data) if form.city.data else []
    if form.city.data and not counties:
        # A city without counties below it (e.g. 东莞市) is itself the finest choice.
        counties = [(form.city.data, dict(cities).get(form.city.data, ""))]
    form.province.choices = options(children(None))
    form.city.choices = options(cities)
    form.region_code.choices = options(counties)


def _institution_choices(form: AccountForm, user) -> list[Institution]:
    """The unit select: the current pick plus the matches of the search box (the no-JavaScript path)."""
    if request.method == "GET":
        form.institution_id.data = user.institution_id
    picked = get_institution(form.institution_id.data) if form.institution_id.data else None
    try:
        found = search_institutions(form.institution_q.data or "", limit=30) if form.institution_q.data else []
    except ServiceError as e:  # too long to search: said on the field, as the form's own check would
        form.institution_q.errors = [str(e)]
        found = []
    rows = ([picked] if picked else []) + [i for i in found if not picked or i.id != picked.id]
    form.institution_id.choices = [SelectChoice("", _("Please choose"))] + [SelectChoice(i.id, _unit_label(i))
                                                                             for i in rows]
    return found


def _unit_label(inst: Institution) -> str:
    parts = [inst.name]
    if inst.parent is not None:
        parts.append(_("supervised by %(name)s", name=inst.parent.name))
    parts.append(_(CATEGORIES.get(inst.category, CATEGORIES["other"])))
    return " · ".join(parts)


@bp.route("/account", methods=["GET", "POST"])
def account():
    user = current_user
    form = AccountForm(obj=user if request.method == "GET" else None)
    locked = svc.is_locked(user)
    _region_choices(form, user)
    found = _institution_choices(form, user)
    action = request.form.get("action", "save")
    if request.method == "POST" and action == "save":
        if locked:
            flash(svc.locked_message(user.profile.status), "danger")
        elif form.validate_on_submit():
            try:
                resubmitted = svc.save_account(
                    user, name=form.name.data, email=form.email.data, region_code=form.region_code.data,
                    institution_id=form.institution_id.data, confirmation_code=form.confirmation_code.data,
                    department=form.department.data)
            except svc.FieldErrors as e:
                _attach(form, e.errors)
            except ServiceError as e:
                flash(str(e), "danger")
            else:
                flash(_("Your account information has been saved."), "success")
                if resubmitted:
                    flash(_("Your profile has been sent for review again with the new information."), "info")
                return redirect(url_for("portal.profile" if current_user.profile is None else "portal.me"))
    no_match = (request.method == "POST" and action == "search" and bool(form.institution_q.data) and not found
                and not form.institution_q.errors)
    if no_match:
        form.institution_q.errors = [_("No unit matches; try part of the name or its pinyin initials.")]
    picked = get_institution(form.institution_id.data) if form.institution_id.data else None
    return render_template("portal/account.html", form=form, locked=locked, lock_text=_lock_text(user), picked=picked,
                           no_match=no_match)


# ---- profile --------------------------------------------------------------------------------------------

def _fill_profile_form(form: ProfileForm, user, profile) -> None:
    form.id_type.data = user.id_type or "resident_id"
    if profile is None:
        return
    form.version.data = str(profile.version)
    for key in ("gender", "birth_date", "personnel_type", "education", "title_level", "title", "position",
                "work_start_date"):
        getattr(form, key).data = getattr(profile, key)
    form.pcr_years.data = str(profile.pcr_years) if profile.pcr_years else ""
    for q in QUESTION_FIELDS:
        value = getattr(profile, q)
        getattr(form, q).data = None if value is None else ("yes" if value else "no")


@bp.route("/profile", methods=["GET", "POST"])
def profile():
    user = current_user
    if not user.account_complete:
        flash(_("Please complete your account information first."), "info")
        return redirect(url_for("portal.account"))
    prof = user.profile
    locked = svc.is_locked(user)
    form = ProfileForm()
    if request.method == "GET":
        _fill_profile_form(form, user, prof)
        if session.pop(TOO_LARGE, None):  # the no-JavaScript path of an oversize upload (see too_large below)
            form.avatar.errors = [_too_large_message()]
    elif locked:
        flash(svc.locked_message(user.profile.status), "danger")
        _fill_profile_form(form, user, prof)
    elif form.validate_on_submit():
        try:
            svc.save_profile(user, form.data_for_service(), request.files.get("avatar"),
                             pending_avatar=session.get(PENDING_AVATAR))
        except svc.FieldErrors as e:
            _attach(form, e.errors)
            if e.pending:
                session[PENDING_AVATAR] = e.pending
        except ServiceError as e:
            flash(str(e), "danger")
        else:
            session.pop(PENDING_AVATAR, None)
            flash(_("Your profile has been submitted and is waiting for your unit's review."), "success")
            return redirect(url_for("portal.me"))
    return render_template("portal/profile.html", form=form, profile=prof, locked=locked, lock_text=_lock_text(user),
                           id_masked=svc.identity_masked(user), sampling=SAMPLING_QUESTIONS, testing=TESTING_QUESTIONS,
                           required_questions=REQUIRED_QUESTIONS,
                           pending_avatar=bool(image_path("pending", session.get(PENDING_AVATAR))) and not locked)


# A photo kept from a refused save (its name, in the signed session) and the flag of an oversize upload.
PENDING_AVATAR, TOO_LARGE = "pending_avatar", "avatar_too_large"


def _too_large_message() -> str:
    return _("The image is larger than %(mb).1f MB.", mb=current_app.config["UPLOAD_MAX_BYTES"] / 1024 / 1024)


@bp.errorhandler(413)
def too_large(e):
    """A body over MAX_CONTENT_LENGTH cannot be read: back to the profile form with the message on the photo."""
    if request.endpoint == "portal.profile":
        session[TOO_LARGE] = True
        return redirect(url_for("portal.profile"), 303)
    from .errors import MESSAGES

    return render_template("errors/error.html", code=413, message=_(MESSAGES[413])), 413


@bp.get("/profile/avatar/pending")
def pending_avatar():
    """The photo kept from this person's refused save (their own session only)."""
    path = image_path("pending", session.get(PENDING_AVATAR))
    if path is None:
        abort(404)
    resp = send_file(path, mimetype="image/png" if path.suffix == ".png" else "image/jpeg", max_age=0)
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


@bp.get("/profile/<int:profile_id>/avatar")
def avatar(profile_id: int):
    """The avatar, for its owner and for admins whose scope holds the profile's unit; 404 for anyone else."""
    prof = svc.get_profile(profile_id)
    if prof is None:
        abort(404)
    if prof.user_id != current_user.id:
        scope = scope_for(current_user)
        inst = prof.institution
        if not (scope.is_superuser or (inst is not None and scope.covers_path(inst.path))):
            abort(404)
    path = image_path("avatar", prof.avatar)
    if path is None:
        abort(404)
    resp = send_file(path, mimetype="image/png" if path.suffix == ".png" else "image/jpeg", max_age=0)
    resp.headers["Cache-Control"] = "private, no-cache"
    return resp


# ---- password -------------------------------------------------------------------------------------------

@bp.route("/password", methods=["GET", "POST"])
def password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            change_password(current_user, form.old_password.data, form.password.data)
        except ServiceError as e:
            form.old_password.errors.append(str(e))
        else:
            flash(_("Your password has been changed; every other device signed in to your account has been signed "
                    "out."), "success")
            return redirect(url_for("portal.me"))
    return render_template("portal/password.html", form=form)
