"""Public institution registry: library search, new-institution application (补增申请), status query.

Every page works without JavaScript: the supervising-institution picker and the region selects refresh
through submit buttons (`find_parent`, `refresh`), SMS codes are sent by a `send_sms` button; with
JavaScript static/js/registry.js fills the pickers in place (GET /api/institutions, GET /api/regions).
"""
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..extensions import limiter
from ..forms.registry import ApplyForm, StatusNameForm, StatusPhoneForm
from ..forms.validators import normalize_phone
from ..models import Institution, Region
from ..models.application import APPLICATION_STATUSES
from ..models.institution import CATEGORIES
from ..services import ServiceError, applications, row_id
from ..services.institutions import get_institution
from ..services.regions import children as region_children

bp = Blueprint("registry", __name__, url_prefix="/institutions")

HELPER_BUTTONS = ("send_sms", "find_parent", "refresh")


def helper_action() -> str | None:
    """Which helper button (not the final submit) posted the form, if any."""
    return next((b for b in HELPER_BUTTONS if b in request.form), None)


def _final_post_exempt() -> bool:
    return request.method != "POST" or helper_action() is not None


def _helper_post_exempt() -> bool:
    return request.method != "POST" or helper_action() is None


def _search_limit() -> str:
    return current_app.config["REGISTRY_SEARCH_LIMIT"]


# ----------------------------------------------------------------------------------------------- pickers

def parent_choices(field_id, q: str | None) -> list[tuple[str, str]]:
    """Options of a supervising-institution select: the chosen one plus the matches of the search box."""
    out: list[tuple[str, str]] = [("", _("Search above, then choose the supervising institution"))]
    seen = set()
    if field_id:
        try:
            inst = get_institution(field_id)
        except (TypeError, ValueError):
            inst = None
        if inst is not None:
            out.append((str(inst.id), _label(inst)))
            seen.add(inst.id)
    for inst in applications.lookup(q):
        if inst.id not in seen:
            out.append((str(inst.id), _label(inst)))
            seen.add(inst.id)
    return out


def _label(inst: Institution) -> str:
    return f"{inst.name}（{inst.parent.name}）" if inst.parent else inst.name


def _regions(parent: str | None) -> list[Region]:
    return region_children(parent)


def fill_regions(form: ApplyForm) -> tuple[str | None, bool]:
    """Region select options from what was chosen so far.

    Returns the chosen lowest-level region code (or None) and whether a county is still missing.
    """
    placeholder = ("", _("Please choose"))
    provinces = _regions(None)
    form.province.choices = [placeholder] + [(r.code, r.name) for r in provinces]
    province = form.province.data if form.province.data in {r.code for r in provinces} else None
    cities = _regions(province) if province else []
    form.city.choices = [placeholder] + [(r.code, r.name) for r in cities]
    city = form.city.data if form.city.data in {r.code for r in cities} else None
    counties = _regions(city) if city else []
    form.county.choices = [placeholder] + [(r.code, r.name) for r in counties]
    county = form.county.data if form.county.data in {r.code for r in counties} else None
    if county:
        return county, False
    if city and not counties:
        return city, False
    return None, bool(city and counties)


def _send_sms(field, purpose: str) -> bool:
    """The `send_sms` button: send a code to the phone typed in `field`; errors go on the field."""
    from ..services import sms

    phone = normalize_phone(field.data or "")
    if phone is None:
        field.errors = list(field.errors) + [_("Please enter a valid mainland China mobile number.")]
        return False
    try:
        sms.send_code(phone, purpose)
    except ServiceError as e:
        field.errors = list(field.errors) + [str(e)]
        return False
    field.data = phone
    flash(_("The verification code has been sent to %(phone)s; it is valid for %(n)d minutes.", phone=phone,
            n=max(1, current_app.config["SMS_CODE_TTL"] // 60)), "success")
    return True


# ------------------------------------------------------------------------------------------------ search

@bp.get("/search")
@limiter.limit(_search_limit)
def search():
    """机构库查询: name fragment or pinyin initials, and/or the supervising institution."""
    q = request.args.get("q", "")
    parent = request.args.get("parent", "")
    try:
        page = max(1, min(int(request.args.get("page", 1)), 10_000))
    except ValueError:
        page = 1
    result = applications.search_library(q, parent, page=page)
    return render_template("registry/search.html", q=q, parent=parent, result=result, categories=CATEGORIES,
                           searched=bool(q.strip() or parent.strip()))


# ------------------------------------------------------------------------------------------------- apply

@bp.route("/apply", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["REGISTRY_APPLY_LIMIT"], exempt_when=_final_post_exempt)
@limiter.limit(_search_limit, exempt_when=_helper_post_exempt)
def apply():
    """补增申请: every field required; duplicates refused with a pointer to what exists."""
    form = ApplyForm()
    if request.method == "GET":
        form.parent_id.data = request.args.get("parent_id") or form.parent_id.data
    region_code, county_missing = fill_regions(form)
    form.parent_id.choices = parent_choices(form.parent_id.data, form.parent_q.data)
    duplicate = None
    action = helper_action() if request.method == "POST" else None
    if action == "send_sms":
        _send_sms(form.contact_phone, "institution")
    elif action is None and form.is_submitted():
        valid = form.validate()
        if county_missing:
            form.county.errors = [_("Please choose the county (district).")]
            valid = False
        if not valid:
            flash(_("Please correct the fields marked below."), "danger")
        else:
            data = applications.ApplicationData(
                name=form.name.data, uscc=form.uscc.data, parent_id=row_id(form.parent_id.data),
                category=form.category.data, region_code=region_code or "", address=form.address.data,
                contact_name=form.contact_name.data, contact_phone=form.contact_phone.data,
                agreed=bool(form.agree.data))
            try:
                app = applications.submit(data, form.sms_code.data)
            except applications.DuplicateError as e:
                duplicate = e.pointer
                flash(str(e), "danger")
            except ServiceError as e:
                flash(str(e), "danger")
            else:
                flash(_("Your application for %(name)s has been submitted and is waiting for review by the "
                        "supervising institution. Query its progress here with the contact phone.", name=app.name),
                      "success")
                return redirect(url_for("registry.status", phone=app.contact_phone))
    return render_template("registry/apply.html", form=form, duplicate=duplicate)


# ------------------------------------------------------------------------------------------------ status

@bp.route("/status", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["REGISTRY_STATUS_LIMIT"], exempt_when=_final_post_exempt)
@limiter.limit(_search_limit, exempt_when=_helper_post_exempt)
def status():
    """查询申请: by contact phone (after an SMS code) or by supervising institution + full name."""
    mode = request.form.get("mode") if request.method == "POST" else request.args.get("mode")
    mode = mode if mode in ("phone", "name") else "phone"
    phone_form = StatusPhoneForm(formdata=request.form if mode == "phone" and request.method == "POST" else None)
    name_form = StatusNameForm(formdata=request.form if mode == "name" and request.method == "POST" else None)
    if request.method == "GET" and request.args.get("phone"):
        phone_form.phone.data = normalize_phone(request.args["phone"]) or ""
    name_form.parent_id.choices = parent_choices(name_form.parent_id.data, name_form.parent_q.data)
    rows = None
    action = helper_action() if request.method == "POST" else None
    if request.method == "POST":
        if mode == "phone" and action == "send_sms":
            _send_sms(phone_form.phone, "institution")
        elif mode == "phone" and action is None and phone_form.validate_on_submit():
            try:
                rows = applications.status_by_phone(phone_form.phone.data, phone_form.sms_code.data)
            except ServiceError as e:
                phone_form.sms_code.errors = list(phone_form.sms_code.errors) + [str(e)]
        elif mode == "name" and action is None and name_form.validate_on_submit():
            try:
                rows = applications.status_by_name(name_form.parent_id.data, name_form.name.data)
            except ServiceError as e:
                name_form.name.errors = list(name_form.name.errors) + [str(e)]
    return render_template("registry/status.html", phone_form=phone_form, name_form=name_form, mode=mode,
                           rows=rows, statuses=APPLICATION_STATUSES)
