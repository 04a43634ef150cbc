"""`gen-staff --bulk`: millions of staff loaded with the staff tables' indexes dropped and built again after.

The national bench builds its data this way (bench/national/prepare.py): the migrations to head, then one bulk
load. What the load leaves must be exactly the schema the migrations made, and a load that fails must leave the
tables, indexes included, as they were.
"""
import pytest
from sqlalchemy import func, select
from stdnum.cn import ric

from admin_app import staffgen
from admin_app.extensions import db
from admin_app.models import StaffProfile, StatusCounter, SubmissionCounter, TypeCounter, User
from admin_app.services.counters import _truth
from admin_app.services.crypto import blind_index, decrypt, encrypt_many
from tests import test_migrations

fresh_db, migrated = test_migrations.fresh_db, test_migrations.migrated  # a new database migrated to head


def run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def counters() -> tuple[set, set, set]:
    status = {(i, s, n) for i, s, n in db.session.execute(
        select(StatusCounter.institution_id, StatusCounter.status, StatusCounter.n)) if n}
    types = {(i, s, t, n) for i, s, t, n in db.session.execute(
        select(TypeCounter.institution_id, TypeCounter.status, TypeCounter.personnel_type, TypeCounter.n)) if n}
    days = {(i, str(d), n) for i, d, n in db.session.execute(
        select(SubmissionCounter.institution_id, SubmissionCounter.day, SubmissionCounter.n)) if n}
    return status, types, days


def truth() -> tuple[set, set, set]:
    rows, type_rows, day_rows = _truth()
    return ({tuple(r) for r in rows}, {(i, s, t or "", n) for i, s, t, n in type_rows},
            {(i, str(d), n) for i, d, n in day_rows})


def test_a_bulk_load_leaves_exactly_the_indexes_and_constraints_the_migrations_made(migrated):
    before = staffgen.index_ddl()
    assert before[1], "the staff tables have secondary indexes to drop"
    result = run(migrated, "gen-staff", "--count", "700", "--institutions", "40", "--seed", "4", "--bulk")
    assert result.exit_code == 0, result.output
    assert "generated 700 staff" in result.output
    assert staffgen.index_ddl() == before
    assert db.session.scalar(select(func.count()).select_from(StaffProfile)) == 700
    assert counters() == truth()
    users = db.session.scalars(select(User).order_by(User.id)).all()
    assert len({u.id_number_index for u in users}) == len({u.phone for u in users}) == 700
    for u in users[:60]:
        number = decrypt(u.id_number_enc)
        assert ric.is_valid(number) and u.id_number_index == blind_index(f"resident_id:{number}")
        assert u.id_number_masked == number[:6] + "*****" + number[-3:]
    from admin_app.services.search import term_condition

    names = dict(db.session.execute(select(StaffProfile.id, StaffProfile.name)).all())
    for pid, name in list(names.items())[:5]:  # the search tables (SQLite) / indexes (PostgreSQL) hold the new rows
        for term in (name[:2], name[-3:] if len(name) >= 3 else name[:2]):
            found = set(db.session.scalars(select(StaffProfile.id).where(term_condition(term, narrow=False))))
            assert pid in found and found == {i for i, n in names.items() if term in n}, term
    profile = db.session.scalar(select(StaffProfile).where(StaffProfile.user_id == users[0].id))
    assert profile.birth_date.strftime("%Y%m%d") == number_of(users[0])[6:14]
    assert profile.gender == ("female" if int(number_of(users[0])[16]) % 2 == 0 else "male")


def number_of(user: User) -> str:
    return decrypt(user.id_number_enc)


def test_a_bulk_load_that_fails_leaves_the_tables_and_their_indexes_as_they_were(migrated, monkeypatch):
    before = staffgen.index_ddl()
    real, calls = staffgen.write_batch, []

    def fail_on_second(users, profiles):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the disk is full")
        real(users, profiles)

    monkeypatch.setattr(staffgen, "write_batch", fail_on_second)
    from admin_app.seed import build_institution_tree, generate_staff

    build_institution_tree(20)
    db.session.commit()
    with pytest.raises(RuntimeError, match="disk is full"):
        generate_staff(50, batch=20, bulk=True)
    db.session.rollback()
    assert len(calls) == 2
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
    assert db.session.scalar(select(func.count()).select_from(StatusCounter)) == 0
    assert staffgen.index_ddl() == before


@pytest.mark.parametrize("fresh_db", ["sqlite"], indirect=True)
def test_on_sqlite_a_bulk_load_keeps_its_random_unique_key_in_a_big_page_cache_and_gives_it_back(migrated,
                                                                                                 monkeypatch):
    # The (id_type, id_number_index) key takes rows at random; with SQLite's 2 MB default a 15M load read a page
    # from disk per row. The pooled connection must leave the load with the cache it came with.
    def cache() -> int:
        return db.session.connection().connection.driver_connection.execute("PRAGMA cache_size").fetchone()[0]

    before, seen = cache(), []
    real = staffgen.write_batch

    def watch(users, profiles):
        seen.append(cache())
        real(users, profiles)

    monkeypatch.setattr(staffgen, "write_batch", watch)
    from admin_app.seed import build_institution_tree, generate_staff

    build_institution_tree(20)
    db.session.commit()
    assert generate_staff(50, batch=20, bulk=True) == 50
    assert seen == [-staffgen.BULK_SQLITE_CACHE_KIB] * 3
    assert cache() == before != -staffgen.BULK_SQLITE_CACHE_KIB


def test_generated_identities_are_valid_unique_and_skip_numbers_already_stored(plain_app):
    with plain_app.app_context():
        ids = staffgen.Identities(3, set())
        drawn = [ids.draw(region, female) for region in ("110101", "440305", "650102")
                 for female in (True, False) for _ in range(3000)]
        assert len(set(drawn)) == len(drawn)
        assert all(ric.is_valid(n) for n in drawn)  # python-stdnum agrees with every check digit
        assert {int(n[16]) % 2 for n in drawn[:3000]} == {0} and {int(n[16]) % 2 for n in drawn[3000:6000]} == {1}
        assert all(ric.get_birth_date(n).year >= 1960 for n in drawn)
        again = staffgen.Identities(3, set())
        assert [again.draw("110101", True) for _ in range(5)] == drawn[:5]  # deterministic per seed


def test_batch_encryption_makes_fernet_tokens_the_app_decrypts(plain_app):
    with plain_app.app_context():
        values = ["", "1", "x" * 15, "y" * 16, "z" * 17, "11010519491231002X", "王" * 30]
        tokens = encrypt_many(values * 2)
        assert [decrypt(t) for t in tokens] == values * 2
        assert len(set(tokens)) == len(tokens)  # a fresh IV each


def test_generated_staff_start_work_as_the_profile_form_allows(plain_app):
    import random
    from datetime import UTC, datetime

    from admin_app.seed import _Unit
    from admin_app.services.identity import IdentityError, check_work_start

    with plain_app.app_context():
        rows = staffgen.Rows(random.Random(5), staffgen.Identities(5, set()), "x", [], datetime.now(UTC))
        units = [_Unit(1, region) for region in ("110101", "440305", "650102")] * 700
        _users, profiles, _keys = rows.batch(1, 1, units)
        births, starts = [p[8] for p in profiles], [p[13] for p in profiles]
        refused = []
        for birth, start in zip(births, starts, strict=True):
            try:
                check_work_start(start, birth)
            except IdentityError as e:
                refused.append((birth, start, str(e)))
        assert refused == []  # the demo's staff can resubmit their own profile unchanged
