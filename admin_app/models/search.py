"""Fragment-search indexes over staff names and phones: raw DDL per engine, since no model can express them.

SQLite: an external-content FTS5 trigram table (fragments of 3+ characters) and a bigram side table
(gram, staff_id) for 2-character fragments, which trigram MATCH cannot find; triggers on staff_profile keep
both (FTS only on changes of name or phone). PostgreSQL: a pg_trgm GIN index on name (3+; the one on phone is gone,
see below) and a GIN index over the IMMUTABLE name_bigrams(name) (2 characters; pg_trgm does not index those for
Chinese).

Phone grams (a later migration, hence a part of their own): the 4-digit substrings of each phone, in a side table
(SQLite) or a GIN index over the IMMUTABLE phone_quadgrams(phone) (PostgreSQL). The 1,000 digit trigrams' postings
grow with the registry (each holds ~1 % of all phones); the 10,000 4-digit grams' hold a tenth of that, and a
4-digit fragment's postings are its matches (bench/RESULTS.md, issue 20). On PostgreSQL they also serve 3 and 5-10
digits and replace the phone trigram index.

Phone suffixes (SQLite, the migration after): every suffix of 5+ digits of each phone, in a side table whose b-tree
answers a fragment of 5-10 digits with one range holding just its matches, where SQLite's FTS5 and the grams read
postings that grow with the registry (services/search.py).

create_all runs install() after creating staff_profile (tests); the migration runs the same statements. A
later SQLite migration that rebuilds staff_profile (batch "move and copy") drops its triggers: it must call
install() again; test_migrations fails at head if a trigger or index is missing.
"""
from sqlalchemy import event

from .profile import StaffProfile

PHONE_GRAM = 4  # the phone grams' length
PHONE_SUFFIX_FROM = 5  # the shortest phone suffix indexed (SQLite)

# kind: (side table, its key column, the profile column, gram length (None: every suffix), shortest gram)
_GRAMS = {"name": ("staff_name_gram", "gram", "name", 2, 2),
          "phone": ("staff_phone_gram", "gram", "phone", PHONE_GRAM, PHONE_GRAM),
          "phone_suffix": ("staff_phone_suffix", "suffix", "phone", None, PHONE_SUFFIX_FROM)}


def _cut(row: str, kind: str) -> tuple[str, str]:
    """The kind's gram expression over `row`, and the FROM ... WHERE that yields each of its starts."""
    _table, _key, column, size, shortest = _GRAMS[kind]
    cut = f"substr({row}.{column}, p.value, {size})" if size else f"substr({row}.{column}, p.value)"
    # Trigger bodies cannot hold a WITH clause; json_each over every start a gram can have in the column's longest
    # value yields each gram's start.
    last = StaffProfile.__table__.c[column].type.length - shortest + 1
    starts = "json_each('[" + ",".join(str(i) for i in range(1, last + 1)) + "]')"
    return cut, f"{starts} AS p WHERE p.value <= length({row}.{column}) - {shortest - 1}"


def _grams(row: str, kind: str = "name") -> str:
    """SELECT of the grams of `row` (a trigger's old)."""
    cut, starts = _cut(row, kind)
    return f"SELECT {cut} FROM {starts}"


def _insert_grams(row: str, kind: str = "name", source: str = "") -> str:
    """INSERT of the grams of `row` (a trigger's new, or every row of `source`) into the kind's side table."""
    table, key = _GRAMS[kind][:2]
    cut, starts = _cut(row, kind)
    return f"INSERT OR IGNORE INTO {table}({key}, staff_id) SELECT {cut}, {row}.id FROM {source}{starts}"


def _delete_grams(kind: str) -> str:
    """DELETE of a trigger's old row's grams from the kind's side table."""
    table, key = _GRAMS[kind][:2]
    return f"DELETE FROM {table} WHERE staff_id = old.id AND {key} IN ({_grams('old', kind)})"


SQLITE_INSTALL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS staff_search USING fts5("
    "name, phone, content='staff_profile', content_rowid='id', tokenize='trigram')",
    "CREATE TABLE IF NOT EXISTS staff_name_gram (gram VARCHAR(2) NOT NULL, staff_id INTEGER NOT NULL, "
    "PRIMARY KEY (gram, staff_id)) WITHOUT ROWID",
    "CREATE TRIGGER IF NOT EXISTS staff_profile_search_ai AFTER INSERT ON staff_profile BEGIN "
    "INSERT INTO staff_search(rowid, name, phone) VALUES (new.id, new.name, new.phone); "
    f"{_insert_grams('new')}; "
    "END",
    "CREATE TRIGGER IF NOT EXISTS staff_profile_search_ad AFTER DELETE ON staff_profile BEGIN "
    "INSERT INTO staff_search(staff_search, rowid, name, phone) VALUES ('delete', old.id, old.name, old.phone); "
    f"{_delete_grams('name')}; "
    "END",
    "CREATE TRIGGER IF NOT EXISTS staff_profile_search_au AFTER UPDATE OF name, phone ON staff_profile BEGIN "
    "INSERT INTO staff_search(staff_search, rowid, name, phone) VALUES ('delete', old.id, old.name, old.phone); "
    "INSERT INTO staff_search(rowid, name, phone) VALUES (new.id, new.name, new.phone); "
    "END",
    "CREATE TRIGGER IF NOT EXISTS staff_profile_gram_au AFTER UPDATE OF name ON staff_profile "
    "WHEN old.name IS NOT new.name BEGIN "
    f"{_delete_grams('name')}; "
    f"{_insert_grams('new')}; "
    "END",
)
SQLITE_PHONE_INSTALL = (
    "CREATE TABLE IF NOT EXISTS staff_phone_gram (gram VARCHAR(4) NOT NULL, staff_id INTEGER NOT NULL, "
    "PRIMARY KEY (gram, staff_id)) WITHOUT ROWID",
    f"CREATE TRIGGER IF NOT EXISTS staff_profile_phone_gram_ai AFTER INSERT ON staff_profile BEGIN "
    f"{_insert_grams('new', 'phone')}; END",
    "CREATE TRIGGER IF NOT EXISTS staff_profile_phone_gram_ad AFTER DELETE ON staff_profile BEGIN "
    f"{_delete_grams('phone')}; END",
    "CREATE TRIGGER IF NOT EXISTS staff_profile_phone_gram_au AFTER UPDATE OF phone ON staff_profile "
    "WHEN old.phone IS NOT new.phone BEGIN "
    f"{_delete_grams('phone')}; "
    f"{_insert_grams('new', 'phone')}; "
    "END",
)
SQLITE_PHONE_BACKFILL = (_insert_grams("s", "phone", source="staff_profile AS s, "),)
SQLITE_PHONE_UNINSTALL = (
    "DROP TRIGGER IF EXISTS staff_profile_phone_gram_au",
    "DROP TRIGGER IF EXISTS staff_profile_phone_gram_ad",
    "DROP TRIGGER IF EXISTS staff_profile_phone_gram_ai",
    "DROP TABLE IF EXISTS staff_phone_gram",
)

# Every suffix of 5+ digits of each phone (a later migration): a fragment of 5-10 digits is a prefix of the suffixes
# that start where it lies, so one range of this b-tree reads exactly the phones holding it, however large the
# registry (bench/RESULTS.md, issue 20, eighth pass). 4 digits stay with the grams: a gram's postings come in id
# order, a range's do not, and reading the rows behind 16,500 of them cost 13.8 against 17.7 ms at 15M staff.
SQLITE_SUFFIX_INSTALL = (
    "CREATE TABLE IF NOT EXISTS staff_phone_suffix (suffix VARCHAR(11) NOT NULL, staff_id INTEGER NOT NULL, "
    "PRIMARY KEY (suffix, staff_id)) WITHOUT ROWID",
    f"CREATE TRIGGER IF NOT EXISTS staff_profile_phone_suffix_ai AFTER INSERT ON staff_profile BEGIN "
    f"{_insert_grams('new', 'phone_suffix')}; END",
    f"CREATE TRIGGER IF NOT EXISTS staff_profile_phone_suffix_ad AFTER DELETE ON staff_profile BEGIN "
    f"{_delete_grams('phone_suffix')}; END",
    "CREATE TRIGGER IF NOT EXISTS staff_profile_phone_suffix_au AFTER UPDATE OF phone ON staff_profile "
    "WHEN old.phone IS NOT new.phone BEGIN "
    f"{_delete_grams('phone_suffix')}; "
    f"{_insert_grams('new', 'phone_suffix')}; "
    "END",
)
# In key order, so each entry goes onto the b-tree's right edge: 15 million phones' 105 million in 149 s.
SQLITE_SUFFIX_BACKFILL = (_insert_grams("s", "phone_suffix", source="staff_profile AS s, ") + " ORDER BY 1, 2",)
SQLITE_SUFFIX_UNINSTALL = (
    "DROP TRIGGER IF EXISTS staff_profile_phone_suffix_au",
    "DROP TRIGGER IF EXISTS staff_profile_phone_suffix_ad",
    "DROP TRIGGER IF EXISTS staff_profile_phone_suffix_ai",
    "DROP TABLE IF EXISTS staff_phone_suffix",
)

# Fills both from the rows already there (the migration on an existing database).
SQLITE_BACKFILL = (
    "INSERT INTO staff_search(staff_search) VALUES ('rebuild')",
    _insert_grams("s", source="staff_profile AS s, "),
)
SQLITE_UNINSTALL = (
    "DROP TRIGGER IF EXISTS staff_profile_gram_au",
    "DROP TRIGGER IF EXISTS staff_profile_search_au",
    "DROP TRIGGER IF EXISTS staff_profile_search_ad",
    "DROP TRIGGER IF EXISTS staff_profile_search_ai",
    "DROP TABLE IF EXISTS staff_name_gram",
    "DROP TABLE IF EXISTS staff_search",
)

# The phone trigram index of the first search migration, which the phone grams replace (their migration drops it,
# and builds it again on the way down).
PG_PHONE_TRGM = "CREATE INDEX IF NOT EXISTS ix_staff_profile_phone_trgm ON staff_profile USING gin (phone gin_trgm_ops)"
PG_INSTALL = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE OR REPLACE FUNCTION name_bigrams(t text) RETURNS text[] LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE "
    "AS $$ SELECT ARRAY(SELECT DISTINCT substr(t, i, 2) FROM generate_series(1, char_length(t) - 1) AS i) $$",
    "CREATE INDEX IF NOT EXISTS ix_staff_profile_name_trgm ON staff_profile USING gin (name gin_trgm_ops)",
    PG_PHONE_TRGM,
    "CREATE INDEX IF NOT EXISTS ix_staff_profile_name_bigrams ON staff_profile USING gin (name_bigrams(name))",
)
PG_UNINSTALL = (
    "DROP INDEX IF EXISTS ix_staff_profile_name_bigrams",
    "DROP INDEX IF EXISTS ix_staff_profile_phone_trgm",
    "DROP INDEX IF EXISTS ix_staff_profile_name_trgm",
    "DROP FUNCTION IF EXISTS name_bigrams(text)",
)

# Phones are 11 digits (or none), so the grams answer 3-digit fragments too (services/search.py) and the phone
# trigram index goes: each approval writes an entry into every GIN index (bench/RESULTS.md, pending lists).
PG_PHONE_INSTALL = (
    "DROP INDEX IF EXISTS ix_staff_profile_phone_trgm",
    "CREATE OR REPLACE FUNCTION phone_quadgrams(t text) RETURNS text[] LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE "
    "AS $$ SELECT ARRAY(SELECT DISTINCT substr(t, i, 4) FROM generate_series(1, char_length(t) - 3) AS i) $$",
    "CREATE INDEX IF NOT EXISTS ix_staff_profile_phone_quadgrams ON staff_profile USING gin (phone_quadgrams(phone))",
)
PG_PHONE_UNINSTALL = (
    "DROP INDEX IF EXISTS ix_staff_profile_phone_quadgrams",
    "DROP FUNCTION IF EXISTS phone_quadgrams(text)",
)

# The parts each migration installs: (install, backfill, uninstall) per engine.
PARTS = {
    "fragments": {"sqlite": (SQLITE_INSTALL, SQLITE_BACKFILL, SQLITE_UNINSTALL),
                  # Statistics of the new expression index: without them the planner guesses 0.5 % of the rows for
                  # any bigram and walked a million rows in report order for 141 matches (13 s against 4 ms).
                  "postgresql": (PG_INSTALL, ("ANALYZE staff_profile",), PG_UNINSTALL)},
    "phone_grams": {"sqlite": (SQLITE_PHONE_INSTALL, SQLITE_PHONE_BACKFILL, SQLITE_PHONE_UNINSTALL),
                    "postgresql": (PG_PHONE_INSTALL, ("ANALYZE staff_profile",), PG_PHONE_UNINSTALL)},
    # SQLite only: PostgreSQL's GIN index intersects the grams' postings faster than SQLite's side table could.
    "phone_suffixes": {"sqlite": (SQLITE_SUFFIX_INSTALL, SQLITE_SUFFIX_BACKFILL, SQLITE_SUFFIX_UNINSTALL)},
}

# What the migrations' drift check must not hold against the models: these are made by the SQL above.
RAW_TABLES = ("staff_search", "staff_name_gram", "staff_phone_gram", "staff_phone_suffix")
RAW_INDEXES = ("ix_staff_profile_name_trgm", "ix_staff_profile_name_bigrams", "ix_staff_profile_phone_quadgrams")


def install(conn, backfill: bool = False, parts: tuple[str, ...] = tuple(PARTS)) -> None:
    """Create the engine's search structures on this connection (and fill them from existing rows)."""
    for part in parts:
        install_sql, backfill_sql, _drop = PARTS[part].get(conn.dialect.name, ((), (), ()))
        for stmt in install_sql + (backfill_sql if backfill else ()):
            conn.exec_driver_sql(stmt)


def uninstall(conn, parts: tuple[str, ...] = tuple(PARTS)) -> None:
    """Drop the engine's search structures (the migration's downgrade, drop_all)."""
    for part in reversed(parts):
        for stmt in PARTS[part].get(conn.dialect.name, ((), (), ()))[2]:
            conn.exec_driver_sql(stmt)


@event.listens_for(StaffProfile.__table__, "after_create")
def _after_create(target, connection, **_kw):
    install(connection)


@event.listens_for(StaffProfile.__table__, "before_drop")
def _before_drop(target, connection, **_kw):
    uninstall(connection)
