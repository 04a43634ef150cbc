"""Property tests: no query string or form makes the back office or the portal answer 5xx or grow a header.

The admin side is introspected, so a grid, filter, export or action added later is fuzzed without touching this
file: every SecureModelView of the app, its own filter list (`flt<i>_<j>` names from `_filter_args`, values from
the filter's options plus hostile ones), `page`, `page_size`, `sort`, `desc`, `search`, the pickers' `offset` and
`limit` and the return `url`, with huge and negative numbers, 100 k strings, NUL bytes, invalid UTF-8
percent-escapes, dates at the calendar's edges and parameters repeated up to 1,500 times; the same for the grid's
export and for every bulk action. The portal side: every form of every page a visitor or staff member reaches
(found by parsing the pages), each text field at 100 k characters. Both engines (TEST_DATABASE_URL); the number of
examples follows the hypothesis profile of tests/conftest.py (derandomized in CI).
"""
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from admin_app.views.base import SecureModelView, filter_kind
from tests.conftest import STAFF_B, SUPER
from tests.test_security_support import sign_in

HEADER_MAX = 4096  # one header (nginx's default proxy buffer holds them all in 4-8 kB)
HEADERS_MAX = 8192
EXAMPLES = max(8, hsettings().max_examples // 4)  # the ci profile: 15 per grid and request kind
SETTINGS = hsettings(max_examples=EXAMPLES, deadline=None, database=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                            HealthCheck.data_too_large, HealthCheck.large_base_example])


@dataclass(frozen=True)
class Raw:
    """A value put into the query string as is: a broken or invalid-UTF-8 percent-escape."""

    text: str


NUMBERS = ("99999999999999999999999", "9223372036854775808", "9223372036854775807", "461168601842738790",
           "2147483648", "-1", "-99999999999999999999", "0", "1", "7", "1e309", "NaN", "0x10", "٣", "1_000", " 2 ")
LONG = ("A" * 100_000, "张" * 50_000, "%_" * 50_000, "9" * 5000, "a b " * 2000)
NASTY = ("\x00", "a\x00b", "\r\nSet-Cookie: x=1", "<script>alert(1)</script>", "' OR '1'='1", "%", "_", "\\",
         "𠀀", "\u202e", "", " ", "[]", "null")
RAW = (Raw("%ff"), Raw("%c3%28"), Raw("%e2%82"), Raw("%"), Raw("%zz"), Raw("%00"), Raw("%ed%a0%80"), Raw("%F0%9F"))
DATES = ("0001-01-01 to 9999-12-31", "9999-12-31 to 9999-12-31", "0001-01-01 to 0001-01-02",
         "1900-01-01 to 2100-12-31", "1899-12-31 to 1900-01-01", "2024-02-30 to 2024-03-01", "x to y", "2024-01-01",
         " to ", "2100-12-31 to 1900-01-01", "2024-01-01 to 2024-01-02 to 2024-01-03", "0000-00-00 to 0000-00-00")
URLS = ("/" + "a" * 100_000, "https://evil.example/", "//evil.example/", "/\\evil", "javascript:alert(1)",
        "/admin/", "/admin/staff/?flt0_0=submitted", "")
HOSTILE = st.sampled_from(NUMBERS + LONG + NASTY + RAW + DATES + URLS)


def admin_views(app) -> list[SecureModelView]:
    admin = app.extensions["admin"][0]
    return [v for v in admin._views if isinstance(v, SecureModelView)]


GRIDS = ("staff", "institution", "application", "grant", "verification", "audit", "preregistration", "programme",
         "apiclient")


def test_every_admin_grid_is_fuzzed(app):
    """A grid added to the back office must be added to GRIDS (and so to the property tests below)."""
    assert {v.endpoint for v in admin_views(app)} == set(GRIDS)


def grid_url(view) -> str:
    return view.url.rstrip("/") + "/"


def filter_values(view, flt) -> list[str]:
    """The filter's own choices, where it has any (the options a user picks in the grid)."""
    try:
        options = flt.get_options(view) or []
    except Exception:  # an options callable that needs a request: the hostile values still come
        options = []
    return [str(value) for value, _label in options][:10]


NUMBER_KEYS = ("page", "page_size", "sort", "desc", "offset", "limit", "pn")
OTHER_KEYS = ("search", "url", "page[]", "flt", "flt0", "flt_", "fltx_0", "after", "before", "select_all", "id")


def values_for(key: str, flt=None) -> st.SearchStrategy:
    """Hostile values, half of them of the kind the argument takes (numbers for a page, dates for a date filter)."""
    if key in NUMBER_KEYS:
        pool = NUMBERS + RAW
    elif key == "search":
        pool = LONG + NASTY + RAW
    elif key == "url":
        pool = URLS
    elif flt is not None and filter_kind(flt):
        pool = DATES + NUMBERS[:6]
    else:
        pool = LONG + NASTY + ("submitted", "张三", "1")
    return st.sampled_from(pool) | HOSTILE


def grid_pairs(view) -> st.SearchStrategy:
    """(key, value, times) of a grid's query string, built from the grid's own filters; some repeated 1,500 times."""
    filters = [(key, flt) for key, (_idx, flt) in (view._filter_args or {}).items()]

    dated = [(key, flt) for key, flt in filters if filter_kind(flt)]
    branches = [b for b, present in (("dated", dated), ("filter", filters), ("other", True)) if present]

    @st.composite
    def pair(draw):
        branch = draw(st.sampled_from(branches))
        if branch != "other":
            key, flt = draw(st.sampled_from(dated if branch == "dated" else filters))
            pos = draw(st.sampled_from(["0", "1", "9", "99999", "-1", ""]))
            own = filter_values(view, flt)
            value = draw(st.sampled_from(own) | values_for(key, flt)) if own else draw(values_for(key, flt))
            name = f"flt{pos}_{key}"
        else:
            name = draw(st.sampled_from(NUMBER_KEYS) | st.sampled_from(OTHER_KEYS))
            value = draw(values_for(name))
        short = isinstance(value, Raw) or len(value) < 100
        times = draw(st.sampled_from([1, 1, 2, 1500])) if short else 1
        return name, value, times

    return st.lists(pair(), min_size=1, max_size=8)


def query_string(pairs) -> str:
    out = []
    for name, value, times in pairs:
        text = value.text if isinstance(value, Raw) else quote(value, safe="")
        out.extend([f"{quote(name, safe='[]')}={text}"] * times)
    return "&".join(out)


def check(resp, where) -> None:
    assert resp.status_code < 500, where
    sizes = {k: len(k) + len(v) for k, v in resp.headers.items()}
    assert max(sizes.values()) < HEADER_MAX and sum(sizes.values()) < HEADERS_MAX, (where, sizes)


def _where(url: str) -> str:
    return url if len(url) < 300 else url[:300] + f"… ({len(url)} characters)"


# ------------------------------------------------------------------------------------------------ grids

@pytest.mark.parametrize("endpoint", GRIDS)
def test_any_query_string_on_a_grid_and_its_export_answers_below_500(app, endpoint):
    view = next(v for v in admin_views(app) if v.endpoint == endpoint)
    client = sign_in(app, SUPER)
    base = grid_url(view)
    paths = [base]
    if "export" in {name for _url, name, _m in view._urls}:
        paths += [f"{base}export/{t}/" for t in dict.fromkeys(["xlsx", *(view.export_types or ())])]
    seen = {"cases": 0}

    @SETTINGS
    @given(path=st.sampled_from(paths), pairs=grid_pairs(view))
    def run(path, pairs):
        url = f"{path}?{query_string(pairs)}"
        check(client.get(url), _where(url))
        seen["cases"] += 1

    run()
    assert seen["cases"] >= min(EXAMPLES, 5)


@pytest.mark.parametrize("endpoint", GRIDS)
def test_any_bulk_action_post_on_a_grid_answers_below_500(app, endpoint):
    view = next(v for v in admin_views(app) if v.endpoint == endpoint)
    actions = list(view._actions_data or {})
    if not actions:
        pytest.skip(f"/admin/{endpoint}/ has no bulk actions")
    client = sign_in(app, SUPER)
    ids = st.lists(st.sampled_from(["1", "2", "3", "0", "-1", "2147483648", "99999999999999999999", "x", "1e3",
                                    "", "\x00"]), max_size=5)

    @SETTINGS
    @given(pairs=grid_pairs(view), action=st.sampled_from(actions) | HOSTILE.filter(lambda v: isinstance(v, str)),
           rowid=ids | st.just([str(i) for i in range(1, 1200)]), url=st.sampled_from(URLS),
           reason=st.sampled_from(["证件照片不清晰", "", "A" * 100_000]), select_all=st.sampled_from([None, "1", "x"]))
    def run(pairs, action, rowid, url, reason, select_all):
        data = {"action": action, "rowid": rowid, "url": url, "reason": reason}
        if select_all is not None:
            data["select_all"] = select_all
        path = f"{grid_url(view)}action/?{query_string(pairs)}"
        check(client.post(path, data=data), (_where(path), action, rowid[:5], _where(url)))

    run()


@pytest.mark.parametrize("endpoint", GRIDS)
def test_any_query_string_on_a_grids_other_pages_answers_below_500(app, endpoint):
    """Details, edit, create, delete, pickers and the grid's own pages (no path arguments): ?id=, ?url=, …"""
    view = next(v for v in admin_views(app) if v.endpoint == endpoint)
    base = grid_url(view).rstrip("/")
    paths = sorted({base + url for url, name, methods in view._urls if "<" not in url and "GET" in methods})
    client = sign_in(app, SUPER)
    keys = ("id", "url", "name", "query", "offset", "limit", "job_id", "side", "q", "page")

    @SETTINGS
    @given(path=st.sampled_from(paths), pairs=st.lists(st.tuples(st.sampled_from(keys), HOSTILE,
                                                                  st.sampled_from([1, 1, 2])), max_size=5))
    def run(path, pairs):
        url = f"{path}?{query_string(pairs)}"
        check(client.get(url), _where(url))

    run()


# ------------------------------------------------------------------------------------------ portal forms

class FormFields(HTMLParser):
    """The POST forms of a page: their action and the names (and submit values) of their fields."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "get").lower() == "post":
            self.forms.append({"action": a.get("action") or "", "fields": {}, "buttons": set(), "files": set()})
        elif self.forms and tag in ("input", "textarea", "select", "button") and a.get("name"):
            form = self.forms[-1]
            kind = (a.get("type") or "").lower()
            if kind == "file":
                form["files"].add(a["name"])
            elif tag == "button" or kind == "submit":
                form["buttons"].add((a["name"], a.get("value") or ""))
            elif a["name"] != "csrf_token":
                form["fields"].setdefault(a["name"], a.get("value") or "")


PORTAL_PAGES = {  # who reaches the page: nobody signed in (None) or a staff member
    None: ("/register", "/login", "/login/sms", "/forgot-password", "/institutions/apply", "/institutions/status"),
    STAFF_B: ("/account", "/profile", "/password", "/verify", "/grants/bind", "/me", "/sessions"),
}


def portal_forms(app):
    """(who, page, post url, fields, buttons) of every POST form on the portal pages that exist in this app."""
    found = []
    rules = {r.rule for r in app.url_map.iter_rules()}
    for who, pages in PORTAL_PAGES.items():
        client = sign_in(app, who) if who else app.test_client()
        for page in pages:
            if page not in rules:
                continue
            resp = client.get(page)
            if resp.status_code != 200:
                continue
            parser = FormFields()
            parser.feed(resp.get_data(as_text=True))
            for form in parser.forms:
                action = form["action"] or page
                if not action.startswith("/") or "/admin" in action or not form["fields"]:
                    continue
                found.append((who, page, action, form["fields"], sorted(form["buttons"])))
    return found


def test_portal_forms_are_found(app):
    posts = {action for _w, _p, action, _f, _b in portal_forms(app)}
    assert {"/account", "/register", "/login", "/institutions/apply"} <= {re.sub(r"\?.*", "", a) for a in posts}


BIG = ("A" * 100_000, "张" * 100_000, "1" * 100_000, "%_\\" * 34_000)


def test_every_portal_form_takes_100k_characters_in_every_text_field_at_once(app):
    """Each form, once per submit button, with every field at 100 k characters: whatever runs before the form's own
    checks (a search, a lookup) sees them all."""
    clients = {None: app.test_client(), STAFF_B: sign_in(app, STAFF_B)}
    for who, _page, action, fields, buttons in portal_forms(app):
        for button in [None, *buttons]:
            for big in BIG[:1]:  # ASCII: percent-decoding 100 k CJK characters costs ~0.6 s a field
                data = {name: big for name in fields}
                if button:
                    data[button[0]] = button[1]
                check(clients[who].post(action, data=data), (action, button, len(big)))


def test_every_portal_form_takes_100k_characters_in_any_text_field_without_a_5xx(app):
    forms = portal_forms(app)
    clients = {None: app.test_client(), STAFF_B: sign_in(app, STAFF_B)}
    big = st.sampled_from(BIG)

    @st.composite
    def post(draw):
        who, page, action, fields, buttons = draw(st.sampled_from(forms))
        data = dict(fields)
        names = sorted(fields)
        for name in draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True)):
            data[name] = draw(big | st.sampled_from(NASTY[1:]))  # NUL is a 400 before any form (views/security)
        if buttons:
            name, value = draw(st.sampled_from(buttons))
            data[name] = value
        return who, action, data

    @SETTINGS
    @given(case=post())
    def run(case):
        who, action, data = case
        resp = clients[who].post(action, data=data)
        check(resp, (action, {k: _where(v) for k, v in data.items()}))

    run()


PUBLIC_SEARCHES = {"/institutions/search": ("q", "parent", "page"), "/api/institutions": ("q",),
                   "/api/regions": ("parent",)}


def test_any_query_string_on_the_public_searches_answers_below_500(app):
    client = app.test_client()
    paths = [p for p in PUBLIC_SEARCHES if p in {r.rule for r in app.url_map.iter_rules()}]

    @st.composite
    def request_url(draw):
        path = draw(st.sampled_from(paths))
        pairs = draw(st.lists(st.tuples(st.sampled_from(PUBLIC_SEARCHES[path]), HOSTILE, st.sampled_from([1, 2])),
                              max_size=4))
        return f"{path}?{query_string(pairs)}"

    @SETTINGS
    @given(url=request_url())
    def run(url):
        check(client.get(url), _where(url))

    run()
