"""The FHIR R4 (IHE mCSD) read API's rules: search parameters, scope, paging and the full-ID right.

The view authenticates the consuming system and audits the call; this module turns `/fhir/<Type>?...` into a
services.api_search query in the client's scope and the rows into resources. Errors are FhirError (an
OperationOutcome issue code and a 4xx status).
"""
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from flask_babel import gettext as _

from ..models import ApiClient
from ..models.types import utcnow
from . import api_search as search, fhir_resources as fr, keyset, row_id
from .api_clients import scope_of
from .identity import indexes_for, normalize
from .uploads import image_path

TYPES = tuple(fr.SEARCH_PARAMS)
COUNT_DEFAULT, COUNT_MAX = 50, 500
# Parameters every search takes besides its own; _format only as JSON.
COMMON = ("_count", "_cursor", "_format", "_include")
PREFIXES = ("eq", "gt", "ge", "lt", "le")
MAX_VALUE = 200


class FhirError(Exception):
    """A request the API refuses: `code` is the OperationOutcome issue type, `status` the HTTP status."""

    def __init__(self, message: str, code: str = "invalid", status: int = 400):
        super().__init__(message)
        self.code, self.status = code, status


def parse_instant(text: str) -> tuple[datetime, bool]:
    """A FHIR date or dateTime as naive UTC, and whether it was a bare date (a whole day)."""
    text = text.strip()
    try:
        if len(text) == 10:
            return datetime.strptime(text, "%Y-%m-%d"), True
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise FhirError(_("_lastUpdated must be a date or a date and time, e.g. gt2026-12-01T08:00:00Z.")) from None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value, False


def last_updated(values: list[str]) -> list[tuple[str, datetime]]:
    """Conditions of `_lastUpdated` values (gt/ge for incremental sync; lt, le and eq too)."""
    out = []
    for raw in values:
        op = raw[:2] if raw[:2] in PREFIXES else "eq"
        text = raw[2:] if raw[:2] in PREFIXES else raw
        if raw[:2].isalpha() and raw[:2] not in PREFIXES:
            raise FhirError(_("Unsupported _lastUpdated prefix; use gt, ge, lt, le or eq."))
        value, whole_day = parse_instant(text)
        if whole_day:  # a bare date stands for the whole day
            nxt = value + timedelta(days=1)
            out += {"gt": [("ge", nxt)], "ge": [("ge", value)], "lt": [("lt", value)], "le": [("lt", nxt)],
                    "eq": [("ge", value), ("lt", nxt)]}[op]
        else:
            out.append((op, value))
    return out


def _token(value: str) -> tuple[str | None, str]:
    system, sep, code = value.partition("|")
    return (system, code) if sep else (None, value)


def _reference(value: str, kind: str) -> int | None:
    """`Organization/12` or `12` as an id; anything else matches nothing (None)."""
    text = value.strip()
    if text.startswith(kind + "/"):
        text = text[len(kind) + 1:]
    return row_id(text)


def _bool(value: str) -> bool:
    if value not in ("true", "false"):
        raise FhirError(_("active must be true or false."))
    return value == "true"


def _ids(values: list[str], kind: str) -> list:
    ids = []
    for v in ",".join(values).split(","):
        if kind == "Location":
            ids.append(v.strip())
        else:
            n = row_id(v)
            ids.append(n if n is not None else -1)  # an id that cannot exist: matches nothing, not everything
    return ids


def filters(kind: str, args, client: ApiClient) -> search.Filters:
    """The search parameters of a request as Filters; unknown or malformed ones are refused (400)."""
    allowed = set(fr.SEARCH_PARAMS[kind]) | set(COMMON)
    f = search.Filters()
    for key in args:
        if key not in allowed:
            raise FhirError(_("Unsupported search parameter: %(name)s", name=key[:40]))
        if any(len(v) > MAX_VALUE for v in args.getlist(key)):
            raise FhirError(_("Search parameter %(name)s is too long.", name=key))
        if any(not v.isprintable() for v in args.getlist(key)):  # control characters (NUL breaks PostgreSQL)
            raise FhirError(_("Search parameter %(name)s holds control characters.", name=key))
    if args.get("_format", "json") not in ("json", "application/fhir+json", "application/json"):
        raise FhirError(_("Only JSON is served."), code="not-supported")
    if "_id" in args:
        f.ids = _ids(args.getlist("_id"), kind)
    if "_lastUpdated" in args:
        f.updated = last_updated(args.getlist("_lastUpdated"))
    if "name" in args:
        f.name = args["name"].strip() or None
    if "active" in args and not _bool(args["active"]):
        f.none = True  # only active (approved, existing) records are published
    for param, target in (("organization", "Organization"), ("practitioner", "Practitioner")):
        if param in args:
            ref = _reference(args[param], target)
            if ref is None:
                f.none = True
            elif param == "organization":
                f.organization_id = ref
            else:
                f.ids = [i for i in (f.ids or [ref]) if i == ref]
                f.none = f.none or not f.ids
    if "partof" in args:
        if kind == "Location":
            f.partof = args["partof"].removeprefix("Location/")
        else:
            f.partof = _reference(args["partof"], "Organization")
            f.none = f.none or f.partof is None
    if "identifier" in args:
        system, value = _token(args["identifier"])
        _identifier(kind, system, value, client, f)
    if "_include" in args and not (kind == "PractitionerRole" and args["_include"] == "PractitionerRole:practitioner"):
        raise FhirError(_("Only _include=PractitionerRole:practitioner is supported."), code="not-supported")
    return f


def _identifier(kind: str, system: str | None, value: str, client: ApiClient, f: search.Filters) -> None:
    if kind == "Practitioner":
        if not client.full_id:
            raise FhirError(_("This consuming system may not search by identity number."), code="forbidden",
                            status=403)
        if system not in (None, "", fr.SYSTEM_RESIDENT_ID):
            f.none = True
            return
        f.identifier_indexes = indexes_for("resident_id", normalize(value))
    elif kind == "Organization":
        if system not in (None, "", fr.SYSTEM_USCC):
            f.none = True
        f.uscc = value.strip().upper()
    else:  # Location
        if system not in (None, "", fr.SYSTEM_REGION):
            f.none = True
        f.code = value.strip()


def page_size(args) -> int:
    """_count bounded to 1..COUNT_MAX (a larger one is served as COUNT_MAX, as FHIR allows)."""
    raw = args.get("_count")
    if raw is None:
        return COUNT_DEFAULT
    if not raw.isascii() or not raw.isdigit() or len(raw) > 6:
        raise FhirError(_("_count must be a whole number."))
    return max(1, min(int(raw), COUNT_MAX))


def cursor(kind: str, args):
    """The keyset cursor a `next` link carries (the last key of the previous page): an incremental sync's is
    (updated_at, id) in services.keyset's form, as a staff cursor is."""
    raw = args.get("_cursor")
    if raw is None:
        return None
    if kind == "Location":
        ok = raw.isascii() and raw.isdigit() and len(raw) == 6
        value = raw
    elif kind == "Organization" and "_lastUpdated" not in args:
        value = row_id(raw)
        ok = value is not None
    else:
        value = keyset.decode_cursor(raw)
        ok = value is not None
    if not ok:
        raise FhirError(_("Invalid paging cursor."))
    return value


def cursor_text(after) -> str:
    """A page's cursor as a `next` link carries it (a staff cursor is services.keyset's)."""
    return keyset.encode_cursor(*after) if isinstance(after, tuple) else str(after)


class Result:
    """A search's Bundle, its number of matches on the page, and whether full ID numbers left with it."""

    def __init__(self, body: dict, rows: int, full_ids: int):
        self.body, self.rows, self.full_ids = body, rows, full_ids


def _resources(kind: str, page: search.Page, client: ApiClient, include: bool, base: str) -> tuple[list, int]:
    entries, full_ids = [], 0
    for row in page.rows:
        if kind in ("Practitioner", "PractitionerRole"):
            rid = row.resident_id() if client.full_id and kind == "Practitioner" else None
            full_ids += rid is not None
            if kind == "Practitioner":
                entries.append((fr.practitioner(row.profile, row.email, rid, base), "match"))
            else:
                entries.append((fr.practitioner_role(row.profile), "match"))
                if include:
                    entries.append((fr.practitioner(row.profile, row.email, base=base), "include"))
        elif kind == "Organization":
            entries.append((fr.organization(row.obj), "match"))
        else:
            entries.append((fr.location(row.obj), "match"))
    return entries, full_ids


def _fetch(kind: str, client: ApiClient, f: search.Filters, count: int, after) -> search.Page:
    if kind in ("Practitioner", "PractitionerRole"):
        return search.staff(scope_of(client), f, count, after)
    if kind == "Organization":
        return search.institutions(scope_of(client), f, count, after)
    return search.regions(f, count, after)


def run_search(kind: str, args, client: ApiClient, base: str) -> Result:
    """A searchset Bundle of one page; its `next` link carries the cursor of the following page."""
    f = filters(kind, args, client)
    count, after = page_size(args), cursor(kind, args)
    page = _fetch(kind, client, f, count, after)
    include = args.get("_include") == "PractitionerRole:practitioner"
    entries, full_ids = _resources(kind, page, client, include, base)
    kept = [(k, v) for k, v in args.items(multi=True) if k != "_cursor"]
    self_url = f"{base}{kind}" + (f"?{urlencode(list(args.items(multi=True)))}" if args else "")
    next_url = None
    if page.next_after is not None:
        next_url = f"{base}{kind}?{urlencode([*kept, ('_cursor', cursor_text(page.next_after))])}"
    return Result(fr.bundle(base, entries, self_url, next_url, utcnow()), len(page.rows), full_ids)


def _one(kind: str, rid: str, client: ApiClient) -> search.Page:
    f = search.Filters(ids=_ids([rid], kind))
    if "," in rid:
        f.none = True
    page = _fetch(kind, client, f, 1, None)
    if not page.rows:
        raise FhirError(_("%(kind)s/%(id)s is not known here.", kind=kind, id=rid[:20]), code="not-found", status=404)
    return page


def read(kind: str, rid: str, client: ApiClient, base: str) -> Result:
    """One resource by id inside the client's scope; anything else is not found (404)."""
    entries, full_ids = _resources(kind, _one(kind, rid, client), client, False, base)
    return Result(entries[0][0], 1, full_ids)


def photo(rid: str, client: ApiClient) -> tuple[Path, str]:
    """The stored photo of a Practitioner in the client's scope and its media type (404 otherwise)."""
    profile = _one("Practitioner", rid, client).rows[0].profile
    path = image_path("avatar", profile.avatar)
    if path is None:
        raise FhirError(_("Practitioner/%(id)s has no photo.", id=rid[:20]), code="not-found", status=404)
    return path, fr.photo_type(profile.avatar)
