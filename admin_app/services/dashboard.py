"""Figures of the /admin/ dashboard for one node of an admin's scope, read from the maintained counters only.

A node is an institution in scope (its direct children get a row each) or, for an admin of several separate
subtrees or the platform superuser, the virtual top whose children are the scope's roots. Every figure is a
read of counters, in a fixed number of statements: one for the children, one for the per-child figures (each
child's subtree counters), one for the node's own staff (its own TypeCounter rows) and one for the daily line
(the node's subtree counters, or those of the scope's roots), however many children and units there are.
"""
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select

from ..extensions import db
from ..models import Institution, SubtreeSubmissionCounter, SubtreeTypeCounter, TypeCounter
from . import row_id
from .clock import today
from .counters import cover_clause
from .scope import Scope, restrict

DAYS = 30
SAMPLING = ("sampling", "both")
TESTING = ("testing", "both")


@dataclass
class Figures:
    """Reported profiles of one institution subtree by status and personnel type."""

    by_status: dict = field(default_factory=dict)
    by_status_type: dict = field(default_factory=dict)  # (status, type) -> n

    def add(self, status: str, ptype: str, n: int) -> None:
        self.by_status[status] = self.by_status.get(status, 0) + n
        self.by_status_type[(status, ptype)] = self.by_status_type.get((status, ptype), 0) + n

    def merge(self, other: "Figures") -> None:
        for (status, ptype), n in other.by_status_type.items():
            self.add(status, ptype, n)

    def count(self, *statuses: str) -> int:
        return sum(self.by_status.get(s, 0) for s in statuses)

    def typed(self, types, *statuses: str) -> int:
        return sum(n for (s, t), n in self.by_status_type.items() if t in types and (not statuses or s in statuses))

    @property
    def reported(self) -> int:
        return sum(self.by_status.values())

    def row(self) -> dict:
        reported, approved = self.reported, self.count("approved")
        return {"reported": reported, "pending": self.count("submitted"),
                "rejected": self.count("unit_rejected", "rejected"), "unit_approved": self.count("unit_approved"),
                "approved": approved, "sampling": self.typed(SAMPLING), "testing": self.typed(TESTING),
                "approved_sampling": self.typed(SAMPLING, "approved"),
                "approved_testing": self.typed(TESTING, "approved"),
                "share": (approved / reported) if reported else None}


def scope_institutions(scope: Scope) -> list[Institution]:
    """The superuser's root institutions, or every institution the admin holds a grant on, by path."""
    if scope.is_superuser:
        stmt = select(Institution).where(Institution.parent_id.is_(None))
    else:
        stmt = select(Institution).where(Institution.id.in_(scope.institution_ids or [0]))
    return db.session.scalars(stmt.order_by(Institution.path)).all()


def scope_roots(scope: Scope) -> list[Institution]:
    """The top institutions of the scope: the superuser's roots, or the admin's institutions not under another."""
    insts = scope_institutions(scope)
    return [i for i in insts if not any(i.path != o.path and i.path.startswith(o.path) for o in insts)]


def home(scope: Scope) -> Institution | None:
    """The node the dashboard opens on: the admin's one top institution, else the virtual top (None)."""
    roots = [] if scope.is_superuser else scope_roots(scope)
    return roots[0] if len(roots) == 1 else None


def resolve(scope: Scope, raw) -> Institution | None:
    """The institution with this id (a digits string) if it lies in scope, else None."""
    pk = row_id(raw)
    if pk is None:
        return None
    return db.session.scalar(restrict(select(Institution).where(Institution.id == pk), Institution, scope))


def children(scope: Scope, node: Institution | None) -> list[Institution]:
    if node is None:
        return scope_roots(scope)
    return list(db.session.scalars(select(Institution).where(Institution.parent_id == node.id)
                                   .order_by(Institution.name)))


def breadcrumb(scope: Scope, node: Institution | None) -> list[Institution]:
    """The node's ancestors that lie in scope, top first, and the node itself."""
    if node is None:
        return []
    ids = [int(x) for x in node.path.strip("/").split("/") if x]
    rows = db.session.scalars(restrict(select(Institution).where(Institution.id.in_(ids)), Institution, scope)).all()
    by_id = {i.id: i for i in rows}
    return [by_id[i] for i in ids if i in by_id]


def subtree_figures(child_ids: list[int]) -> dict[int, Figures]:
    """Figures of each child's whole subtree: its subtree counters, a few rows per child."""
    out = {i: Figures() for i in child_ids}
    if not child_ids:
        return out
    stmt = (select(SubtreeTypeCounter.institution_id, SubtreeTypeCounter.status, SubtreeTypeCounter.personnel_type,
                   SubtreeTypeCounter.n)
            .where(SubtreeTypeCounter.institution_id.in_(child_ids), SubtreeTypeCounter.n != 0))
    for cid, status, ptype, n in db.session.execute(stmt):
        out[cid].add(status, ptype, int(n))
    return out


def own_figures(institution_id: int) -> Figures:
    """Figures of the staff of one institution itself (not those below it)."""
    fig = Figures()
    stmt = (select(TypeCounter.status, TypeCounter.personnel_type, func.sum(TypeCounter.n))
            .where(TypeCounter.institution_id == institution_id)
            .group_by(TypeCounter.status, TypeCounter.personnel_type))
    for status, ptype, n in db.session.execute(stmt):
        fig.add(status, ptype, int(n or 0))
    return fig


def daily(scope: Scope, node: Institution | None, days: int = DAYS) -> list[tuple[str, int]]:
    """(ISO day, reported profiles whose latest submission fell on it) for the last `days` local days."""
    last = today()
    first = last - timedelta(days=days - 1)
    stmt = (select(SubtreeSubmissionCounter.day, func.sum(SubtreeSubmissionCounter.n))
            .where(cover_clause(SubtreeSubmissionCounter.institution_id, scope, node.path if node else None),
                   SubtreeSubmissionCounter.day >= first, SubtreeSubmissionCounter.day <= last)
            .group_by(SubtreeSubmissionCounter.day))
    got = {(date.fromisoformat(d) if isinstance(d, str) else d): int(n or 0)
           for d, n in db.session.execute(stmt)}
    return [((first + timedelta(days=k)).isoformat(), got.get(first + timedelta(days=k), 0)) for k in range(days)]


def dashboard(scope: Scope, node: Institution | None) -> dict:
    """Everything the dashboard shows for one node."""
    kids = children(scope, node)
    per_child = subtree_figures([k.id for k in kids])
    total = Figures()
    own = None
    if node is not None:
        own = own_figures(node.id)
        total.merge(own)
    for fig in per_child.values():
        total.merge(fig)
    return {"node": node, "children": [(k, per_child[k.id].row()) for k in kids],
            "own": own.row() if own is not None and own.reported else None,
            "total": total.row(), "totals": total, "daily": daily(scope, node)}
