"""The programme migration: the workforce programme becomes the default and every existing right joins it."""
from datetime import datetime
from types import SimpleNamespace

import flask_migrate
from sqlalchemy import Boolean, DateTime, Integer, MetaData, Table, insert, select, text, update

from admin_app.extensions import db
from admin_app.models import AdminGrant, Programme, User
from admin_app.services.scope import scope_for
from tests.conftest import make_app
from tests.test_migrations import MIGRATIONS, fresh_db, keep_logging

__all__ = ["fresh_db"]
BEFORE = "c4a7d21e9b30"  # the head before programmes


def add_row(table_name: str, **values) -> int:
    """A row written through the table as the database has it at this revision (the models may have moved on);
    NOT NULL columns left out get a plain value of their type."""
    table = Table(table_name, MetaData(), autoload_with=db.engine)
    for col in table.columns:
        if col.name in values or col.nullable or col.primary_key or col.server_default is not None:
            continue
        values[col.name] = (False if isinstance(col.type, Boolean) else 0 if isinstance(col.type, Integer)
                            else datetime(2026, 1, 1) if isinstance(col.type, DateTime) else "")
    return db.session.execute(insert(table).values(**values).returning(table.c.id)).scalar_one()


def institution_tree(n: int) -> list:
    """A root and n-1 children, with the materialized paths services.institutions gives them."""
    table = Table("institution", MetaData(), autoload_with=db.engine)
    ids = []
    for i in range(n):
        iid = add_row("institution", name=f"迁移测试机构{i}", category="commission" if i == 0 else "primary_care",
                      parent_id=ids[0] if ids else None, depth=0 if i == 0 else 1, path="")
        path = f"/{iid}/" if not ids else f"/{ids[0]}/{iid}/"
        db.session.execute(update(table).where(table.c.id == iid).values(path=path))
        ids.append(iid)
    return [SimpleNamespace(id=i) for i in ids]


def test_existing_rights_are_attached_to_the_default_programme_and_keep_working(fresh_db, tmp_path):
    _engine, uri = fresh_db
    app = make_app(tmp_path, uri)
    with app.app_context(), keep_logging():
        flask_migrate.upgrade(directory=str(MIGRATIONS), revision=BEFORE)
        # Written through the tables of that revision: the models describe the head, which has more columns.
        units = institution_tree(4)
        uid = add_row("user", phone="13800009999", password_hash="x", name="迁移前管理员", identity_status="verified",
                      active=True, is_superuser=False, institution_id=units[0].id)
        db.session.commit()
        for unit, role, state in ((units[0], "manager", "active"), (units[1], "assistant", "active"),
                                  (units[2], "manager", "issued")):
            db.session.execute(text("INSERT INTO admin_grant (institution_id, role, code, state, user_id, issued_at) "
                                    "VALUES (:i, :r, :c, :s, :u, CURRENT_TIMESTAMP)"),
                               {"i": unit.id, "r": role, "c": f"CODE{unit.id:04d}"[:8], "s": state,
                                "u": uid if state == "active" else None})
        db.session.commit()
        flask_migrate.upgrade(directory=str(MIGRATIONS))
        db.session.expire_all()
        [default] = db.session.scalars(select(Programme)).all()
        assert (default.code, default.name, default.is_default, default.active) == ("workforce", "卫生人员上报",
                                                                                    True, True)
        assert [g.programme_id for g in db.session.scalars(select(AdminGrant))] == [default.id] * 3
        person = db.session.get(User, uid)
        assert set(scope_for(person).institution_ids) == {units[0].id, units[1].id}
        # a new right without a programme named joins the default one, as before
        db.session.add(AdminGrant(institution_id=units[3].id, role="manager", state="issued", code="NEWCODE2"))
        db.session.commit()
        assert db.session.scalar(select(AdminGrant.programme_id).where(AdminGrant.code == "NEWCODE2")) == default.id
        db.session.remove()
        db.engine.dispose()
