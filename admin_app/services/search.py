"""Staff search: a term matches when the name or phone contains it, or it is a whole document number.

Routed by the term's length to the engine's fragment index (models/search.py), since a plain LIKE '%…%' reads every row:
3-10 digits through the phone's 4-digit grams on PostgreSQL, on SQLite 4 through them and 5-10 through the phone's
suffixes (a whole number through the phone b-tree); other terms of 3+ characters through FTS5 trigram (SQLite) or
pg_trgm on names (PostgreSQL); 2 characters through the name bigrams; a single character, or 2 digits (no bigram index
on phones), by LIKE only where the rows to scan are few (`narrow`: a unit's worth), else the term is refused as too
short.
"""
import re

from flask_babel import gettext as _
from sqlalchemy import String, Text, bindparam, cast, column, false, func, literal, or_, select, table
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import StaffProfile, User
from ..models.search import PHONE_GRAM, PHONE_SUFFIX_FROM
from ..models.user import ID_TYPES
from . import ServiceError, like_escape
from .identity import check_document, indexes_for, normalize

TERMS_MAX = 5
PHONE_CHARS = 11  # a mainland mobile number; staff_profile.phone holds nothing longer
TERM_CHARS = 40
_ASCII_DIGITS = re.compile(r"[0-9]+")

_fts = table("staff_search", column("rowid"), column("staff_search"))
_grams = table("staff_name_gram", column("gram"), column("staff_id"))
_phone_grams = table("staff_phone_gram", column("gram"), column("staff_id"))
_phone_suffixes = table("staff_phone_suffix", column("suffix"), column("staff_id"))


class TermTooShort(ServiceError):
    """A 1-character term (or 2 digits) over more rows than a LIKE scan should read."""


def split_terms(search: str) -> list[str]:
    """The search box's words: at most TERMS_MAX, each cut to TERM_CHARS."""
    return [t[:TERM_CHARS] for t in (search or "").split()][:TERMS_MAX]


def _contains(col, term: str):
    return col.like(f"%{like_escape(term)}%", escape="\\")


def _fragment(term: str, dialect: str):
    """name or phone contains a term of 3+ characters: digits through the phone indexes, the rest through the
    trigram index.

    A term longer than a mobile number is looked for in names only: a whole ID number's 16 digit trigrams each
    have ~100,000 phones behind them, and intersecting those cost PostgreSQL 40 ms for an answer known before.
    And names are letters (the forms' RealName), so such a term with a digit in it is looked for nowhere (None):
    SQLite's FTS read those trigrams' postings before filtering to the name column, 22 ms at 15 million staff.
    For the same reason a term of ASCII digits is looked for in phones only, and phones are digits (a mainland
    mobile number, or none), so on PostgreSQL any other term is looked for in names only.
    """
    in_phone = len(term) <= PHONE_CHARS
    if not in_phone and any(ch.isdigit() for ch in term):
        return None
    if in_phone and _ASCII_DIGITS.fullmatch(term) and (dialect == "postgresql" or len(term) >= PHONE_GRAM):
        return _phone_digits(term, dialect)
    if dialect == "sqlite":
        # An FTS5 string: the term as one phrase, double quotes doubled; trigram phrases match substrings.
        phrase = '"' + term.replace('"', '""') + '"'
        if not in_phone:
            phrase = "name : " + phrase
        hits = select(_fts.c.rowid).where(_fts.c.staff_search.op("MATCH")(bindparam(None, phrase, String)))
        return StaffProfile.id.in_(hits)
    if dialect == "postgresql" or not in_phone:
        return _contains(StaffProfile.name, term)
    return or_(_contains(StaffProfile.name, term), _contains(StaffProfile.phone, term))


def _gram_array(grams: list[str]):
    return cast(literal(grams, ARRAY(Text)), ARRAY(Text))


def _phone_digits(digits: str, dialect: str):
    """The phone contains these ASCII digits: a whole number through the phone b-tree, other lengths through the
    4-digit gram index (SQLite: 4 digits; 5-10 through the phone suffixes).

    A whole mobile number is in a phone only as all of it: the b-tree answers that without intersecting its grams'
    postings (its nine trigrams' took 50 ms at a million phones). Four digits are one gram, whose postings are the
    matches. SQLite: a longer fragment is a prefix of the suffixes that start where it lies, so one range of their
    b-tree reads just its matches (a phone holding it twice is in the range twice; IN reads it once): 0.18 ms for
    5 digits at 15 million staff, where FTS5's trigrams took 3.7 (bench/RESULTS.md, eighth pass). PostgreSQL: a
    longer fragment's grams are taken every 4 digits plus the last (at most 3 for 10 digits), which between them
    cover it, and the GIN index intersects them (1.3 ms for 5 digits at 15 million staff, 5.4 ms by trigrams);
    holding them all does not make a phone hold the fragment in that order, so the phones found are checked for it
    by strpos (no index offers to answer that instead). Three digits lie in a phone's gram with one digit before or
    after them (phones are longer than 3): any of those 20 grams, then the same check.
    """
    if dialect not in ("sqlite", "postgresql"):
        return _contains(StaffProfile.phone, digits)
    if dialect == "sqlite":  # ids only, so the page can be read from the matches (term_condition)
        if len(digits) == PHONE_CHARS:
            found = aliased(StaffProfile)
            return StaffProfile.id.in_(select(found.id).where(found.phone == digits))
        if len(digits) < PHONE_SUFFIX_FROM:
            return StaffProfile.id.in_(select(_phone_grams.c.staff_id).where(_phone_grams.c.gram == digits))
        # The suffixes starting with these digits: from the digits up to (not including) the digits with their
        # last one raised by one, which orders after every suffix that starts with them.
        after = digits[:-1] + chr(ord(digits[-1]) + 1)
        suffix = _phone_suffixes.c.suffix
        return StaffProfile.id.in_(select(_phone_suffixes.c.staff_id).where(
            suffix >= bindparam(None, digits, String), suffix < bindparam(None, after, String)))
    if len(digits) == PHONE_CHARS:
        return StaffProfile.phone == digits
    held = func.phone_quadgrams(StaffProfile.phone)
    if len(digits) < PHONE_GRAM:
        around = [digits + d for d in "0123456789"] + [d + digits for d in "0123456789"]
        return held.op("&&")(_gram_array(around)) & (func.strpos(StaffProfile.phone, digits) > 0)
    starts = sorted({*range(0, len(digits) - PHONE_GRAM + 1, PHONE_GRAM), len(digits) - PHONE_GRAM})
    cond = held.op("@>")(_gram_array([digits[i:i + PHONE_GRAM] for i in starts]))
    return cond if len(digits) == PHONE_GRAM else cond & (func.strpos(StaffProfile.phone, digits) > 0)


def _bigram(term: str, dialect: str):
    """The name contains a 2-character term, through the bigram index."""
    if dialect == "sqlite":
        return StaffProfile.id.in_(select(_grams.c.staff_id).where(_grams.c.gram == term))
    if dialect == "postgresql":
        return func.name_bigrams(StaffProfile.name).op("@>")(_gram_array([term]))
    return _contains(StaffProfile.name, term)


def _document(digits: str):
    """The profile's holder has this document number (a blind-index probe per type); None if nobody has it."""
    if not re.fullmatch(r"[0-9A-Z]{5,18}", digits):
        return None
    pairs = []
    for id_type in ID_TYPES:
        try:
            number = check_document(id_type, digits, lookup=True)
        except ServiceError:
            continue
        pairs += [(id_type, index) for index in indexes_for(id_type, number)]  # every key of the ring
    if not pairs:
        return None
    # (id_type, id_number_index) is the unique index, so each pair is one index probe. The few profile ids are
    # read first: a subquery inside the OR would stop PostgreSQL combining the fragment indexes (BitmapOr), and
    # ids keep every condition a lookup by primary key, which SQLite can drive the page from.
    ids = db.session.scalars(select(StaffProfile.id).join(User, User.id == StaffProfile.user_id).where(
        or_(*[(User.id_type == t) & (User.id_number_index == i) for t, i in pairs]))).all()
    return StaffProfile.id.in_(ids) if ids else None


def term_condition(term: str, narrow: bool):
    """SQL: the profile matches this search term. narrow: the rows in reach are few enough to LIKE-scan.

    Raises TermTooShort for a term no index can answer when the scope is wide. Unless narrow, on SQLite the
    condition is made of `id IN (...)` lookups only (a whole mobile number is a fragment of itself), so the
    page can be read from the matches rather than by scanning the scope for them.
    """
    dialect = db.session.get_bind().dialect.name
    digits = normalize(term)
    conds = []
    if len(term) >= 3:
        conds.append(_fragment(term, dialect))
        if digits != term and len(digits) >= 3 and digits.isdigit():
            conds.append(_fragment(digits, dialect))  # "138 0000" or full-width digits
    elif len(term) == 2 and not term.isdigit():
        conds.append(_bigram(term, dialect))
    elif narrow:
        conds.append(_contains(StaffProfile.name, term))
        if digits.isdigit():
            conds.append(_contains(StaffProfile.phone, digits))
    else:
        raise TermTooShort(_("“%(term)s” is too short to search all your staff: type at least two characters "
                             "(two digits are not enough for a mobile number), or filter by a work unit first.",
                             term=term))
    conds.append(_document(digits))
    conds = [c for c in conds if c is not None]
    return or_(*conds) if conds else false()
