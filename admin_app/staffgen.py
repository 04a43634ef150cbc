"""The rows behind `flask gen-staff`: generated staff at millions of rows, written the fastest way each engine takes.

Identities are unique by construction (a permutation of birth day x sequence per region and sex) instead of drawn
at random and checked; the row tuples go to PostgreSQL by COPY and to SQLite by one executemany per table; the
--bulk path drops the tables' secondary indexes and constraints and rebuilds them after the load, all in one
transaction (see bulk_indexes).
"""
import random
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from datetime import date, datetime, timedelta

from sqlalchemy import text
from stdnum.cn import ric

from .extensions import db
from .models import StaffProfile, User
from .models.profile import SAMPLING_QUESTIONS, TESTING_QUESTIONS
from .services.clock import utc_offset_minutes
from .services.crypto import blind_index_many, encrypt_many
from .services.regions import in_force_since

USER_COLUMNS = ("id", "phone", "name", "password_hash", "institution_id", "region_code", "department", "email",
                "id_type", "id_number_enc", "id_number_index", "id_number_masked", "identity_status",
                "is_superuser", "active", "failed_logins", "created_at")
QUESTIONS = (*SAMPLING_QUESTIONS, *TESTING_QUESTIONS)
PROFILE_COLUMNS = ("id", "user_id", "institution_id", "name", "phone", "department", "personnel_type", "gender",
                   "birth_date", "education", "title_level", "title", "position", "work_start_date", "avatar",
                   "status", "version", "submitted_at", "created_at", "updated_at", "last_reason", *QUESTIONS,
                   "pcr_years")
_N_SAMPLING = len(SAMPLING_QUESTIONS)
_DOING_PCR = QUESTIONS.index("doing_pcr")
# Birth dates run from 1960-01-01 over 42 years (as fake_resident_id draws them).
FIRST_BIRTH, BIRTH_DAYS = date(1960, 1, 1), 42 * 365
_STEP = 2_147_483_647  # a prime above every region's slot count: k -> (STEP * k + offset) mod slots is a permutation


class Identities:
    """Resident IDs that never repeat: the k-th woman (man) of a region gets the k-th slot of a permutation of
    (birth day, even (odd) sequence number), so a million draws cost a million slots, not a million retries.
    Numbers already stored (`taken`, their blind indexes) are skipped."""

    def __init__(self, seed: int, taken: set[str]):
        self.seed, self.taken = seed, taken
        self._regions: dict[tuple[str, bool], list] = {}

    def _region(self, region: str, female: bool) -> list:
        state = self._regions.get((region, female))
        if state is None:
            since = in_force_since(region)
            first = max(FIRST_BIRTH, date(since, 1, 1)) if since else FIRST_BIRTH
            last = FIRST_BIRTH + timedelta(days=BIRTH_DAYS - 1)
            if first > last:  # a code newer than the range: people born since it came into force
                last = max(first, date.today() - timedelta(days=1))
            slots = ((last - first).days + 1) * 500
            offset = random.Random(f"{self.seed}:{region}:{female}").randrange(slots)
            state = self._regions[(region, female)] = [(first - FIRST_BIRTH).days, slots, offset, 0,
                                                       0 if female else 1]
        return state

    def draw(self, region: str, female: bool) -> str:
        """The next unused resident ID of this region and sex (the GB 11643 check digit from python-stdnum)."""
        state = self._region(region, female)
        first, slots, offset, k, odd = state
        if k >= slots:
            raise RuntimeError(f"region {region} has no more resident ID numbers for this sex")
        state[3] = k + 1
        day, seq = divmod((_STEP * k + offset) % slots, 500)
        body = f"{region}{_day(first + day)}{seq * 2 + odd:03d}"
        return body + ric.calc_check_digit(body + "?")  # it skips the last character; 0.6 µs, 9 s for 15 million


_DAYS: dict[int, str] = {}


def _day(n: int) -> str:
    """YYYYMMDD of FIRST_BIRTH + n days (cached: the same few thousand days recur)."""
    got = _DAYS.get(n)
    if got is None:
        got = _DAYS[n] = f"{FIRST_BIRTH + timedelta(days=n):%Y%m%d}"
    return got


def taken_identities() -> set[str]:
    """Blind indexes of the resident IDs already stored (the generator never repeats one)."""
    return set(db.session.scalars(select_taken()))


def select_taken():
    from sqlalchemy import select

    return select(User.id_number_index).where(User.id_type == "resident_id", User.id_number_index.is_not(None))


class Rows:
    """Builds one batch of (user tuples, profile tuples, counter keys) for units already chosen."""

    def __init__(self, rng: random.Random, ids: Identities, password_hash: str, avatars: list[str], now: datetime):
        from .seed import DEPARTMENTS, GIVEN, REJECT_REASON, STATUS_MIX, SURNAMES, TITLES

        self.rng, self.ids, self.pw, self.avatars, self.now = rng, ids, password_hash, avatars, now
        self.surnames, self.given, self.departments, self.titles = SURNAMES, GIVEN, DEPARTMENTS, TITLES
        self.reason = REJECT_REASON
        self.statuses = [s for s, w in STATUS_MIX for _ in range(w)]
        self.offset = timedelta(minutes=utc_offset_minutes())

    def batch(self, first_id: int, first_pid: int, units: list, phones: list | None = None,
              names: list | None = None, statuses: list | None = None,
              types: list | None = None) -> tuple[list, list, list]:
        """Users and profiles for units[k] (ids from first_id / first_pid); counter keys
        (institution, status, personnel type, local day of submission)."""
        r = self.rng.random
        choice = self.rng.choice
        now, ids = self.now, self.ids
        surnames, given, departments, titles = self.surnames, self.given, self.departments, self.titles
        ns, ng, nd, nt, nst = len(surnames), len(given), len(departments), len(titles), len(self.statuses)
        avatars, na = self.avatars, len(self.avatars)
        idents, females = [], []
        for unit in units:
            female = r() < 0.6
            females.append(female)
            idents.append(ids.draw(unit.region_code or "110101", female))
        keys = [f"resident_id:{i}" for i in idents]
        indexes = blind_index_many(keys)
        while ids.taken and any(i in ids.taken for i in indexes):  # a clash with a stored one: draw that one again
            for k, index in enumerate(indexes):
                while index in ids.taken:
                    idents[k] = ids.draw(units[k].region_code or "110101", females[k])
                    index = indexes[k] = blind_index_many([f"resident_id:{idents[k]}"])[0]
        sealed = encrypt_many(idents)
        users, profiles, counted = [], [], []
        for k, unit in enumerate(units):
            uid, pid, ident = first_id + k, first_pid + k, idents[k]
            phone = phones[k] if phones and phones[k] else f"15{uid:09d}"
            name = names[k] if names and names[k] else (
                surnames[int(r() * ns)] + given[int(r() * ng)] + (given[int(r() * ng)] if r() < 0.5 else ""))
            status = statuses[k] if statuses and statuses[k] else self.statuses[int(r() * nst)]
            dept = departments[int(r() * nd)]
            users.append((uid, phone, name, self.pw, unit.id, unit.region_code, dept, None, "resident_id", sealed[k],
                          indexes[k], ident[:6] + "*****" + ident[-3:], "unverified", False, True, 0, now))
            x = r()
            ptype = (types[k] if types and types[k] else
                     "sampling" if x < 1 / 3 else "testing" if x < 2 / 3 else "both")
            level, title = titles[int(r() * nt)]
            submitted = None if status == "draft" else now - timedelta(minutes=1 + int(r() * (60 * 24 * 30 - 1)))
            answers = [None] * len(QUESTIONS)
            if ptype != "testing":
                for q in range(_N_SAMPLING):
                    answers[q] = r() < 0.7
            if ptype != "sampling":
                for q in range(_N_SAMPLING, len(QUESTIONS)):
                    answers[q] = r() < 0.6
            birth = date(int(ident[6:10]), int(ident[10:12]), int(ident[12:14]))
            # Work starts between 18 and 30 (the profile form refuses a start before the 16th birthday), never
            # later than last year.
            start = date(min(birth.year + 18 + int(r() * 12), now.year - 1), 1 + int(r() * 12), 1)
            profiles.append((
                pid, uid, unit.id, name, phone, dept, ptype, "female" if females[k] else "male", birth,
                choice(("college", "bachelor", "bachelor", "master", "doctor", "secondary")), level, title or None,
                choice(("", "科员", "副主任", "主任")) or None,
                start, avatars[int(r() * na)] if na else None,
                status, 1, submitted, now, now, self.reason if status in ("unit_rejected", "rejected") else None,
                *answers, 1 + int(r() * 14) if answers[_DOING_PCR] else None))
            counted.append((unit.id, status, ptype, (submitted + self.offset).date() if submitted else None))
        return users, profiles, counted


def write(table, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Insert rows (tuples in `columns` order) in the session's transaction: COPY on PostgreSQL, one executemany
    on SQLite, with SQLAlchemy's own bind processing of the columns that have one (SQLite's datetime format)."""
    if not rows:
        return
    conn = db.session.connection()
    dialect = conn.dialect
    names = ", ".join(dialect.identifier_preparer.quote(c) for c in columns)
    target = dialect.identifier_preparer.format_table(table)
    dbapi = conn.connection.driver_connection
    if dialect.name == "postgresql":
        with dbapi.cursor() as cur, cur.copy(f"COPY {target} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    procs = [(i, p) for i, c in enumerate(columns)
             if (p := table.c[c].type.dialect_impl(dialect).bind_processor(dialect)) is not None]
    if procs:
        rows = [list(row) for row in rows]
        for row in rows:
            for i, p in procs:
                if row[i] is not None:
                    row[i] = p(row[i])
    cur = dbapi.cursor()
    try:
        cur.executemany(f"INSERT INTO {target} ({names}) VALUES ({', '.join('?' * len(columns))})", rows)
    finally:
        cur.close()


def write_batch(users: list[tuple], profiles: list[tuple]) -> None:
    """The users, then their profiles."""
    write(User.__table__, USER_COLUMNS, users)
    write(StaffProfile.__table__, PROFILE_COLUMNS, profiles)


def move_sequences() -> None:
    """Explicit ids leave PostgreSQL's sequences behind: move them past the rows."""
    if db.engine.dialect.name == "postgresql":
        for table in ("user", "staff_profile"):
            db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                                    f"coalesce((SELECT max(id) FROM \"{table}\"), 1))"))


BULK_TABLES = ("user", "staff_profile")
# SQLite's page cache during a bulk load, in KiB (PRAGMA cache_size takes a negative number as KiB). The unique
# (id_type, id_number_index) key stays in the table's own DDL and takes its rows in blind-index order, that is at
# random: with the default 2 MB cache, two earlier 15-million loads fell to 550-5,000 staff a second as that
# index outgrew it; with this one a 15M load ran at 3,000-17,500 a second per million to the end (bench/RESULTS.md).
# The cache grows only as pages are touched.
BULK_SQLITE_CACHE_KIB = 4_000_000


def index_ddl(tables: Iterable[str] = BULK_TABLES) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """(constraints, indexes) of the tables besides their primary keys, as (table, name, definition): what
    bulk_indexes drops and builds again (and what the test compares before and after). SQLite's constraints
    live in the table's own DDL and stay; its "constraints" here are the tables' triggers (the search tables')."""
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        cons = conn.execute(text(
            "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
            "WHERE c.conrelid = ANY(CAST(:t AS regclass[])) AND c.contype IN ('u', 'f', 'x') "
            "ORDER BY 1, 2"), {"t": [f'"{t}"' for t in tables]}).all()
        idx = conn.execute(text(
            "SELECT i.indrelid::regclass::text, c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = ANY(CAST(:t AS regclass[])) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid "
            "AND k.conrelid = i.indrelid) ORDER BY 1, 2"), {"t": [f'"{t}"' for t in tables]}).all()
        return [tuple(r) for r in cons], [tuple(r) for r in idx]
    listed = ", ".join(f"'{t}'" for t in tables)
    rows = conn.execute(text(
        f"SELECT type, tbl_name, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
        f"AND sql IS NOT NULL AND tbl_name IN ({listed}) ORDER BY 1, 2, 3")).all()
    return ([tuple(r[1:]) for r in rows if r[0] == "trigger"], [tuple(r[1:]) for r in rows if r[0] == "index"])


@contextmanager
def bulk_indexes(log: Callable[[str], None] = lambda _m: None):
    """Drop the staff tables' secondary indexes, unique and foreign-key constraints (primary keys stay), run the
    load, build them again from the definitions the database itself gave, then commit: one transaction, so a
    crash or an error anywhere rolls back to the tables as they were, indexes included (PostgreSQL and SQLite
    both have transactional DDL). The tables are locked for the whole load: for a new (bench) database."""
    import time

    conn = db.session.connection()
    pg = conn.dialect.name == "postgresql"
    raw = conn.connection.driver_connection
    cache_before = None
    if not pg:
        cache_before = raw.execute("PRAGMA cache_size").fetchone()[0]
        raw.execute(f"PRAGMA cache_size = -{BULK_SQLITE_CACHE_KIB}")
    if not pg and not raw.in_transaction:
        # pysqlite opens transactions only before DML; DDL outside one would commit on its own.
        raw.execute("BEGIN")
    constraints, indexes = index_ddl()
    q = conn.dialect.identifier_preparer.quote
    for table, name, _d in sorted(constraints, key=lambda c: not c[2].startswith("FOREIGN KEY")):
        if pg:
            conn.execute(text(f"ALTER TABLE {q(table.strip(chr(34)))} DROP CONSTRAINT {q(name)}"))
        else:  # the search triggers: one FTS rebuild after the load instead of a trigger per row
            conn.execute(text(f"DROP TRIGGER {q(name)}"))
    for _t, name, _d in indexes:
        conn.execute(text(f"DROP INDEX {q(name)}"))
    try:
        yield
        t0 = time.perf_counter()
        if pg:
            conn.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
        for _t, name, ddl in indexes:
            conn.execute(text(ddl))
            log(f"  index {name} ({time.perf_counter() - t0:.0f}s)")
        # Unique constraints before foreign keys; each is checked over all rows in one pass.
        for table, name, ddl in sorted(constraints, key=lambda c: c[2].startswith("FOREIGN KEY")):
            conn.execute(text(f"ALTER TABLE {q(table.strip(chr(34)))} ADD CONSTRAINT {q(name)} {ddl}" if pg
                              else ddl))
            log(f"  {'constraint' if pg else 'trigger'} {name} ({time.perf_counter() - t0:.0f}s)")
        if not pg and constraints:
            from .models import search

            search.install(conn, backfill=True)  # fills the FTS and bigram tables from all rows (idempotent)
            log(f"  search tables ({time.perf_counter() - t0:.0f}s)")
        if pg:
            conn.execute(text('ANALYZE "user"'))
            conn.execute(text("ANALYZE staff_profile"))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        if cache_before is not None:  # the pooled connection goes back with SQLite's default cache
            raw.execute(f"PRAGMA cache_size = {cache_before}")
