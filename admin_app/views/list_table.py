"""A grid's list table rendered in one loop over cells formatted in Python, not through Flask-Admin's cell macros.

Flask-Admin renders every cell through its template's `get_value(row, c)` → `_get_list_value` → the column
formatter, each with a Jinja context; on the staff grid's 20-row page that path was a fifth of the request
(bench/RESULTS.md, issue 20). A view mixing in `ListTableMixin` declares `list_cells`: per column, a factory
called once per page (translations, URLs and badges looked up there) returning the cell function row → text or
Markup. The template (admin/_list_table.html) loops over the pre-formatted cells; text is escaped on output
(markupsafe), Markup is trusted. Headers keep Flask-Admin's sort links and titles and add aria-sort; row
checkboxes are named by their row (the label a11y.js would give them), the select-all box by what it selects.
"""
import re
from collections.abc import Callable

from flask_admin.babel import gettext as fa_gettext
from flask_babel import get_locale, gettext as _
from markupsafe import Markup, escape

CellFactory = Callable[["ListTableMixin"], Callable]
SORT_STAND_IN = 987654  # a column index no grid has, replaced in one sort URL to give each column's
STAND_IN = "hwrstandin"  # a value put in one URL and replaced to give its siblings' (one url_for, not one each)


def plain(column: str) -> Callable:
    """The cell of a column shown as it is stored ('' for none), as Flask-Admin's type formatters show text."""
    def cell(row):
        value = getattr(row, column)
        return "" if value is None else value
    return cell


def _plain_factory(column: str) -> CellFactory:
    return lambda view: plain(column)


class ListTable:
    """One page's table: headers (column, label, url, aria-sort, title), rows (pk, checkbox label, cells)."""

    __slots__ = ("headers", "rows", "actions", "select_title", "select_all_title", "select_all_label", "empty")

    def __init__(self, headers, rows, actions, empty):
        self.headers, self.rows, self.actions, self.empty = headers, rows, actions, empty
        self.select_title = fa_gettext("Select record")
        self.select_all_title = fa_gettext("Select all records")
        self.select_all_label = _("Select all {n} rows on this page").format(n=len(rows))


class ListTableMixin:
    """For a ModelView: `list_table(data, actions)` in its list template renders the page's table."""

    list_cells: dict[str, CellFactory] = {}
    default_sort_column: str | None = None  # the column the list is ordered by when no ?sort= is given

    def list_row_label(self, row) -> str:
        """What names the row for its checkbox (after 选择); the first cell's text by default."""
        return str(getattr(row, self._list_columns[0][0], "") or "")

    def _list_header_words(self) -> list[tuple]:
        """(column, label, sort title, sortable, description) of each column, built once per language."""
        key = str(get_locale())
        cache = self.__dict__.setdefault("_hwr_header_words", {})
        if key not in cache:
            descriptions = self.column_descriptions or {}
            cache[key] = [(column, str(label), fa_gettext("Sort by %(name)s", name=str(label)),
                           self.is_sortable(column), str(descriptions[column]) if column in descriptions else None)
                          for column, label in self._list_columns]
        return cache[key]

    def _sort_urls(self, view_args) -> tuple[str, str]:
        """The list's URL sorted by a stand-in column, ascending and descending (two url_for a page, not one a
        column): the stand-in index is replaced by each column's."""
        asc, desc = (self._get_list_url(view_args.clone(sort=SORT_STAND_IN, sort_desc=d)) for d in (None, 1))
        return asc, desc

    def page_size_links(self, view_args):
        """size → the list's URL with that page size (the page-size menu's links), from one url_for."""
        biggest = max(self.page_size_options)  # a page size the URL keeps (any other is bounded away)
        url = self._get_list_url(view_args.clone(page_size=biggest))
        at = re.compile(rf"([?&]page_size=){biggest}(?=&|$)")
        return lambda size: at.sub(rf"\g<1>{int(size)}", url, count=1)

    def list_table(self, data, actions) -> ListTable:
        """The page's table: headers with sort links, and each row's cells formatted once, in Python."""
        view_args = self._get_list_extra_args()
        asc_url, desc_url = self._sort_urls(view_args)
        stand_in = f"sort={SORT_STAND_IN}"
        headers = []
        for idx, (column, label, title, sortable, description) in enumerate(self._list_header_words()):
            sort = arrow = None
            if view_args.sort == idx:
                sort = "descending" if view_args.sort_desc else "ascending"
                arrow = "down" if view_args.sort_desc else "up"
            elif view_args.sort is None and column == self.default_sort_column:
                sort = "descending"  # the default order, newest first; no arrow, as Flask-Admin shows it
            url = None
            if sortable:  # the column already sorted ascending links to descending, any other to ascending
                url = (desc_url if sort == "ascending" and arrow else asc_url).replace(stand_in, f"sort={idx}", 1)
            headers.append((column, label, url, sort, arrow, title, description))
        cells = [(f'<td class="col-{escape(column)}">', (self.list_cells.get(column) or _plain_factory(column))(self))
                 for column, _label in self._list_columns]
        select = _("Select")
        rows = []
        for row in data:
            # escape() leaves a formatter's Markup as it is and escapes any text; the row is then trusted HTML.
            html = Markup("".join([f"{start}{escape(fn(row))}</td>" for start, fn in cells]))
            rows.append((row.id, f"{select} {self.list_row_label(row)}".strip(), html))
        return ListTable(headers, rows, bool(actions), self.get_empty_list_message())
