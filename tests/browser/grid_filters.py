"""Every filter of a Flask-Admin grid applied with a value, for the a11y crawl (issue 31): the grid's filter menu data
(#filter-groups-data) names each filter and its input (options: a select; daterangepicker …: a date; select2-tags:
a list; none: a text box; the staff grid's 单位 and 地区: an ajax picker, #institution-picker-data). All of them
are applied at once (in chunks of at most GRID_MAX_FILTERS), so one page load draws every filter row with a value
for axe, the keyboard walk and the check for English, and then each picker is opened once."""
from urllib.parse import urlencode, urlsplit

from playwright.sync_api import Page, expect

from admin_app.services.bounds import DEFAULTS

# A value each input shape accepts (the demo's data is of 2026; the staff grid's dates are local dates).
VALUES = {"daterangepicker": "2026-01-01 to 2026-12-31", "datepicker": "2026-06-01",
          "datetimerangepicker": "2026-01-01 00:00:00 to 2026-12-31 23:59:59",
          "datetimepicker": "2026-06-01 08:00:00", "timerangepicker": "08:00:00 to 18:00:00",
          "timepicker": "08:00:00", "select2-tags": "a,b"}
TEXT_VALUE = "1"  # a text box: digits suit every one of them (a phone number, a department, a category code)
REFUSED = ("该筛选条件已忽略", "无效的筛选器值")


def filter_data(page: Page) -> tuple[dict, dict]:
    """The grid's filters ({group: [{arg, operation, options, type}]}) and its ajax pickers ({name: {arg, url}})."""
    return page.evaluate("""() => {
        const read = id => { const el = document.getElementById(id); return el ? JSON.parse(el.textContent) : {}; };
        return [read('filter-groups-data'), read('institution-picker-data') || {}];
    }""")


def filter_urls(page: Page, base: str) -> list[tuple[str, int]]:
    """URLs of the current grid with every filter applied, each with the number of filters it applies."""
    groups, pickers = filter_data(page)
    picked = {}
    for picker in pickers.values():  # the first choice the picker offers this user
        sep = "&" if "?" in picker["url"] else "?"
        answer = page.request.get(base + picker["url"] + sep + "query=&offset=0&limit=1").json()
        picked[str(picker["arg"])] = str(answer[0][0]) if answer else TEXT_VALUE
    args = []
    for items in groups.values():
        for item in items:
            options = item.get("options") or []
            value = (str(options[0][0]) if options and item.get("type") != "select2-tags" else
                     VALUES.get(item.get("type")) or picked.get(str(item["arg"])) or TEXT_VALUE)
            args.append((str(item["arg"]), value))
    size = DEFAULTS["GRID_MAX_FILTERS"]
    path = urlsplit(page.url).path
    return [(base + path + "?" + urlencode([(f"flt{i}_{arg}", v) for i, (arg, v) in enumerate(chunk)]), len(chunk))
            for chunk in (args[i:i + size] for i in range(0, len(args), size))]


def expect_filters_applied(page: Page, n: int) -> list[str]:
    """The page draws the n filters it was asked for (none refused): problems, if any."""
    rows = page.locator("#filter_form table.filters tr")
    expect(rows).to_have_count(n)
    body = page.locator("main").inner_text()
    return [f"a filter value was refused: {r}" for r in REFUSED if r in body]


def open_pickers(page: Page, look) -> list[str]:
    """Open the first date picker, ajax picker, list box and option box of the filter rows, and call look(name)
    while each is open (its script-built text is on the page then); returns the kinds opened."""
    opened = []
    date = page.locator("#filter_form input.filter-val[data-date-format]")
    if date.count():
        date.first.click()
        expect(page.locator(".daterangepicker").first).to_be_visible()
        look("date picker")
        opened.append("date picker")
        page.keyboard.press("Escape")
        page.locator("main h1, main h2, main").first.click(position={"x": 1, "y": 1})
    # The staff grid's 单位/地区 boxes (admin_review.js marks them data-picker) and a list filter's tag box.
    for kind, box in (("ajax picker", "#filter_form td:has(input.filter-val[data-picker]) .select2-choice"),
                      ("list picker", "#filter_form .select2-container-multi .select2-choices")):
        boxes = page.locator(box)
        if not boxes.count():
            continue
        boxes.first.click()
        drop = page.locator("#select2-drop")
        expect(drop).to_be_visible()
        if kind == "list picker":
            page.keyboard.type("无此项")
        expect(drop.locator(".select2-searching")).to_have_count(0)
        look(kind)
        opened.append(kind)
        page.keyboard.press("Escape")
    return opened
