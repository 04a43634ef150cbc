"""The audit trail as a file: the audit grid's scoped, filtered rows in its order, through the staff list's
printable writer (services.export.write_table_xlsx: print setup, text cells, formula-safe)."""
from flask_babel import gettext as _
from sqlalchemy.orm import aliased

from ..i18n import N_
from ..models import AuditLog, Institution, User
from . import clock
from .audit import AUDIT_ACTIONS, TARGET_TYPES, describe
from .export import BATCH, write_table_xlsx

# (header msgid, column width)
AUDIT_COLUMNS = ((N_("Time"), 20), (N_("Actor"), 12), (N_("Mobile number"), 14), (N_("Action"), 22),
                 (N_("Target type"), 14), (N_("Target"), 12), (N_("Institution"), 28), (N_("Details"), 60),
                 (N_("IP address"), 16))


def audit_export_query(list_query):
    """The columns of the file on top of the audit grid's query (its scope, filters and order kept)."""
    # Aliases: the grid's filters on the actor's phone or name may have joined User already.
    actor, inst = aliased(User), aliased(Institution)
    return (list_query
            .outerjoin(actor, actor.id == AuditLog.actor_id)
            .outerjoin(inst, inst.id == AuditLog.institution_id)
            .with_entities(AuditLog.created_at, actor.name, actor.phone, AuditLog.action, AuditLog.target_type,
                           AuditLog.target_id, inst.name, AuditLog.details, AuditLog.ip)
            .yield_per(BATCH))


def write_audit_xlsx(rows, fh, scope_name: str | None, exported_at=None, progress=None, details_text=None) -> int:
    """Write rows of audit_export_query as a printable XLSX; returns the number of rows.

    `details_text(action, details) -> str` renders the details in the reader's language (default: describe).
    """
    details_text = details_text or (lambda action, details: describe(action, details, full=True))
    actions = {code: _(msgid) for code, msgid in AUDIT_ACTIONS.items()}
    targets = {code: _(msgid) for code, msgid in TARGET_TYPES.items()}

    def cells():
        for created, name, phone, action, target_type, target_id, inst, details, ip in rows:
            yield (clock.local_text(created, "%Y-%m-%d %H:%M:%S"), name, phone, actions.get(action, action),
                   targets.get(target_type, target_type), target_id, inst, details_text(action, details), ip)

    return write_table_xlsx(cells(), fh, _("Audit log"), [_(m) for m, _w in AUDIT_COLUMNS],
                            [w for _m, w in AUDIT_COLUMNS], scope_name, exported_at, progress, freeze_cols=1)
