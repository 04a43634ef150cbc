"""Small JSON endpoints the forms use."""
from flask import Blueprint, jsonify, request
from flask_babel import gettext as _

from ..services.regions import children as region_children, get_region

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/regions")
def regions():
    """Children of ?parent= (provinces when empty): [{code, name, level}]."""
    parent = (request.args.get("parent") or "").strip()
    if parent and (len(parent) != 6 or not parent.isdigit()):
        return jsonify(ok=False, error=_("parent must be a 6-digit region code.")), 400
    if parent and get_region(parent) is None:
        return jsonify(ok=False, error=_("Unknown region code.")), 404
    rows = region_children(parent)
    return jsonify([{"code": r.code, "name": r.name, "level": r.level} for r in rows])


@bp.get("/institutions")
def institutions():
    """Units matching ?q= (name fragment or pinyin initials): [{id, name, code, parent, category}]."""
    from ..models.institution import CATEGORIES
    from ..services.institutions import search_institutions

    q = (request.args.get("q") or "").strip()[:64]
    if not q:
        return jsonify([])
    rows = search_institutions(q, limit=20)
    return jsonify([{"id": i.id, "name": i.name, "code": i.uscc or "", "parent": i.parent.name if i.parent else "",
                     "category": _(CATEGORIES.get(i.category, CATEGORIES["other"])),
                     "needs_code": bool(i.require_confirmation_code)} for i in rows])
