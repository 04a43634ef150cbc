"""Business rules. Views, admin actions and CLI commands call these; nothing else decides."""
from flask_babel import gettext as _

# INTEGER primary keys: no row has a larger id, and the database refuses a larger parameter (a 500).
ID_MAX = 2**31 - 1


class ServiceError(Exception):
    """A rule refused the request; the message is shown to the user as is."""


def like_escape(term: str) -> str:
    """A LIKE pattern's literal part: %, _ and the escape character itself are escaped with a backslash."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def row_id(value) -> int | None:
    """A submitted row id (plain ASCII digits, 1..ID_MAX) as an int, else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        n = value
    else:
        text = str(value if value is not None else "").strip()
        if not text.isascii() or not text.isdigit() or len(text) > 10:
            return None
        n = int(text)
    return n if 0 < n <= ID_MAX else None


def row_ids(values) -> list[int]:
    """Submitted ids in their order, once each; anything that is not a row id is dropped."""
    out: list[int] = []
    for v in values or ():
        n = row_id(v)
        if n is not None and n not in out:
            out.append(n)
    return out


def parse_ids(values) -> list[int]:
    """Selected ids sorted and unique; one that is not a row id refuses the whole selection."""
    ids = [row_id(v) for v in values or ()]
    if any(i is None for i in ids):
        raise ServiceError(_("Invalid selection."))
    return sorted(set(ids))
