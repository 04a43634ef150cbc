"""The scope rule: an admin of institution X sees and acts on everything under X's path. One home.

Rights are per programme (业务): the back office (the workforce grid and every /admin/ view) asks the default
programme's rights; a right in another programme opens only that programme's own pages.
"""
from dataclasses import dataclass, field

from flask import g, has_request_context
from sqlalchemy import bindparam, false, func, or_, select
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import (
    AdminGrant,
    AuditLog,
    IdentityVerification,
    Institution,
    InstitutionApplication,
    Preregistration,
    Programme,
    ReviewEvent,
    StaffProfile,
    User,
)


@dataclass(frozen=True)
class Scope:
    """What one user may administer: everything (superuser) or the subtrees of the given paths."""

    user_id: int | None
    is_superuser: bool = False
    paths: tuple[str, ...] = ()
    institution_ids: tuple[int, ...] = ()
    roles: dict = field(default_factory=dict)  # institution_id -> "manager" | "assistant"
    programme_id: int | None = None  # the programme the rights are of; None: the default programme
    has_below: bool | None = None  # some institution of the scope has institutions below it (None: not looked up)
    holds_roots: bool | None = None  # the scope's institutions include every root one (None: not looked up)

    @property
    def is_admin(self) -> bool:
        return self.is_superuser or bool(self.paths)

    @property
    def leaf_ids(self) -> tuple[int, ...]:
        """The scope's institution ids when nothing lies below them (a unit admin's), so its rows are exactly
        theirs; empty otherwise."""
        return self.institution_ids if not self.is_superuser and self.has_below is False else ()

    def covers_path(self, path: str | None) -> bool:
        """True when an institution with this path is inside the scope."""
        if self.is_superuser:
            return True
        return bool(path) and any(path.startswith(p) for p in self.paths)

    def path_clause(self, path_column):
        """SQL condition: path_column lies in one of the scope's subtrees."""
        if self.is_superuser:
            return None
        if not self.paths:
            return false()
        return or_(*[path_column.like(p + "%") for p in self.paths])

    def covers_below(self, path: str | None) -> bool:
        """True when an institution with this path lies strictly below one of the scope's own (not one of them)."""
        if self.is_superuser:
            return True
        return bool(path) and any(path.startswith(p) and path != p for p in self.paths)

    def below_clause(self, path_column):
        """SQL condition: path_column lies strictly below one of the scope's institutions (None: no limit)."""
        if self.is_superuser:
            return None
        if not self.paths:
            return false()
        return or_(*[path_column.like(p + "%") & (path_column != p) for p in self.paths])

    def institution_ids_select(self):
        """A SELECT of the ids of every institution in scope (for `col IN (...)`)."""
        stmt = select(Institution.id)
        clause = self.path_clause(Institution.path)
        return stmt if clause is None else stmt.where(clause)


def programme_clause(programme_id: int | None):
    """SQL condition: an AdminGrant belongs to this programme (None: the default programme)."""
    if programme_id is not None:
        return AdminGrant.programme_id == programme_id
    return AdminGrant.programme_id.in_(select(Programme.id).where(Programme.is_default))


def _grants_statement(default_programme: bool):
    """The SELECT of a user's active grants in a programme (bound: user_id, programme_id), built once per process:
    building it (an aliased table, an EXISTS) cost more CPU than running it, on every back-office request."""
    key = "default" if default_programme else "programme"
    stmt = _GRANTS_STATEMENTS.get(key)
    if stmt is None:
        # Whether an institution has children, and how many roots there are, ride on the same statement: every
        # back-office page asks is_unit_admin, and every grid page covers_everything.
        child = aliased(Institution)
        below = select(child.id).where(child.parent_id == Institution.id).exists()
        root = aliased(Institution)
        roots = select(func.count(root.id)).where(root.parent_id.is_(None)).scalar_subquery()
        programme = programme_clause(None if default_programme else bindparam("programme_id"))
        stmt = _GRANTS_STATEMENTS[key] = (
            select(Institution.id, Institution.path, AdminGrant.role, below.label("has_below"),
                   Institution.parent_id.is_(None).label("is_root"), roots.label("roots"))
            .join(AdminGrant, AdminGrant.institution_id == Institution.id)
            .where(AdminGrant.user_id == bindparam("user_id"), AdminGrant.state == "active", programme))
    return stmt


_GRANTS_STATEMENTS: dict = {}


def scope_for(user, programme_id: int | None = None) -> Scope:
    """Build the scope of a user from their active admin grants in one programme (default: the workforce one)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Scope(user_id=None, programme_id=programme_id)
    params = {"user_id": user.id} if programme_id is None else {"user_id": user.id, "programme_id": programme_id}
    rows = db.session.execute(_grants_statement(programme_id is None), params).all()
    return Scope(
        user_id=user.id,
        is_superuser=bool(user.is_superuser),
        paths=tuple(sorted({r.path for r in rows})),
        institution_ids=tuple(sorted({r.id for r in rows})),
        roles={r.id: r.role for r in rows},
        programme_id=programme_id,
        has_below=any(r.has_below for r in rows),
        # A root lies in the scope only when granted itself (paths are /1/, /1/2/: a prefix is an ancestor).
        holds_roots=bool(rows) and len({r.id for r in rows if r.is_root}) == rows[0].roots,
    )


def is_unit_admin(scope: Scope) -> bool:
    """True for an admin whose institutions have no institutions below them: a unit's own admin (manual 000's
    单位管理员), who works in 上报人员列表; a commission officer (institutions below) oversees from the dashboard."""
    if scope.is_superuser or not scope.institution_ids:
        return False
    if scope.has_below is not None:
        return not scope.has_below
    below = db.session.scalar(select(Institution.id).where(Institution.parent_id.in_(scope.institution_ids)).limit(1))
    return below is None


_ROOT_PATHS = select(Institution.path).where(Institution.parent_id.is_(None))  # built once, run once a request


def covers_everything(scope: Scope) -> bool:
    """True when the scope holds every root institution, so it reaches every row (looked up once per request)."""
    if scope.is_superuser:
        return True
    if not scope.paths:
        return False
    if scope.holds_roots is not None:  # read with the grants (scope_for): no statement of its own
        return scope.holds_roots
    if has_request_context() and "hwr_root_paths" in g:
        roots = g.hwr_root_paths
    else:
        roots = db.session.scalars(_ROOT_PATHS).all()
        if has_request_context():
            g.hwr_root_paths = roots
    return bool(roots) and all(scope.covers_path(p) for p in roots)


def current_scope() -> Scope:
    """The signed-in user's scope, computed once per request."""
    from flask_login import current_user

    if not has_request_context():
        return Scope(user_id=None)
    if "hwr_scope" not in g:
        g.hwr_scope = scope_for(current_user)
    return g.hwr_scope


def _in_scope_institutions(scope: Scope, column):
    if covers_everything(scope):
        # Every institution is in reach, so "in one of the scope's institutions" is "in an institution" (the foreign
        # key holds the rest). SQLite builds the IN list of every institution for each statement: 7 ms of a
        # national page at 15,000 institutions, 1.5 ms at 2,000, where the page itself takes 0.1 ms.
        return column.is_not(None)
    if scope.leaf_ids:
        # A unit admin's one id is an equality, which lets a sorted page walk the unit's own (unit, sort key, id)
        # index instead of reading every row of the unit and sorting them (services.staff_listing.UNIT_SORT_INDEXES).
        return column.in_(scope.leaf_ids)
    return column.in_(scope.institution_ids_select())


def restrict(query, model, scope: Scope | None = None):
    """Narrow a query (legacy Query or 2.0 Select) of `model` to the scope; the one scope filter."""
    scope = scope or current_scope()
    if scope.is_superuser:
        return query
    if not scope.paths:
        return query.where(false())
    if model is Institution:
        cond = scope.path_clause(Institution.path)
    elif model in (StaffProfile, User, AdminGrant, AuditLog):
        cond = _in_scope_institutions(scope, model.institution_id)
    elif model is Preregistration:
        # Pre-registered admin phones belong to the institutions strictly below the officer's own.
        cond = Preregistration.institution_id.in_(select(Institution.id).where(scope.below_clause(Institution.path)))
    elif model is InstitutionApplication:
        cond = _in_scope_institutions(scope, InstitutionApplication.parent_id)
    elif model is IdentityVerification:
        cond = IdentityVerification.user_id.in_(
            select(User.id).where(_in_scope_institutions(scope, User.institution_id)))
    elif model is ReviewEvent:
        cond = ReviewEvent.profile_id.in_(
            select(StaffProfile.id).where(_in_scope_institutions(scope, StaffProfile.institution_id)))
    else:
        raise TypeError(f"no scope rule for {model.__name__}")
    return query.where(cond)


def count_query(model, scope: Scope | None = None):
    """SELECT count(*) of `model`'s rows in the scope, as a legacy Query (the admin grids' pager totals).

    count(*), not the stock count(?) with '*' bound, which misses SQLite's fast path.
    """
    return restrict(db.session.query(func.count()).select_from(model), model, scope)


def institution_in_scope(institution_id: int | None, scope: Scope | None = None) -> bool:
    """True when the institution with this id lies in the scope."""
    scope = scope or current_scope()
    if institution_id is None:
        return scope.is_superuser
    path = db.session.scalar(select(Institution.path).where(Institution.id == institution_id))
    return path is not None and scope.covers_path(path)
