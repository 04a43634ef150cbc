"""The programme migration: the workforce programme becomes the default and every existing right joins it."""
import flask_migrate
from sqlalchemy import select, text

from admin_app.extensions import db
from admin_app.models import AdminGrant, Programme, User
from admin_app.services.scope import scope_for
from tests.conftest import make_app
from tests.test_migrations import MIGRATIONS, fresh_db, keep_logging

__all__ = ["fresh_db"]
BEFORE = "c4a7d21e9b30"  # the head before programmes


def test_existing_rights_are_attached_to_the_default_programme_and_keep_working(fresh_db, tmp_path):
    from admin_app.seed import build_institution_tree, generate_staff

    _engine, uri = fresh_db
    app = make_app(tmp_path, uri)
    with app.app_context(), keep_logging():
        flask_migrate.upgrade(directory=str(MIGRATIONS), revision=BEFORE)
        units = build_institution_tree(12)
        generate_staff(6)
        db.session.commit()
        uid = db.session.scalar(text("SELECT min(id) FROM \"user\""))
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
