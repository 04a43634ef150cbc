"""Translation catalogs: one .po per area under translations/<locale>/LC_MESSAGES, compiled by the set-up.

`python -m admin_app.i18n` compiles every catalog; `python -m admin_app.i18n --missing` lists msgids in the
code and templates that have no Chinese translation yet (the catalog test fails on any);
`python -m admin_app.i18n add DOMAIN < pairs.tsv` adds "msgid<TAB>translation" lines to DOMAIN.po.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).parent


def N_(msgid: str) -> str:
    """Mark a msgid for extraction without translating it here (labels in tables, translated when shown)."""
    return msgid

TRANSLATIONS = ROOT / "translations"
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
KEYWORDS = {"N_": None, "_": None, "gettext": None, "lazy_gettext": None, "_l": None, "ngettext": (1, 2),
            "lazy_ngettext": (1, 2)}


def compile_catalogs(translations: Path | None = None) -> int:
    """Compile every .po into a .mo next to it when the .mo is missing or older; returns how many."""
    import os
    import tempfile

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    n = 0
    for po in (translations or TRANSLATIONS).glob("*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=po.parent.parent.name)
        # Written aside and renamed: several workers starting at once never read a half-written .mo.
        fd, tmp = tempfile.mkstemp(prefix=f".{mo.name}.", dir=mo.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                write_mo(fh, catalog)
            os.replace(tmp, mo)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        n += 1
    return n


def ensure_catalogs(translations: Path | None = None, locale: str = "zh_Hans_CN") -> list[str]:
    """At start-up: compile missing or stale catalogs and return the locale's domains; refuse when that fails."""
    translations = translations or TRANSLATIONS
    try:
        compile_catalogs(translations)
    except OSError as exc:
        raise RuntimeError(
            f"The translation catalogs in {translations} are missing or older than their .po files and cannot be "
            f"written ({exc.strerror or exc}): run `python -m admin_app.i18n` as a user who may write there, "
            "then start again. Refusing to serve English to a Chinese-first back office.") from exc
    domains = sorted({p.stem for p in (translations / locale / "LC_MESSAGES").glob("*.mo")})
    if not domains:
        raise RuntimeError(f"No {locale} translation catalogs in {translations}: the .po files are missing from "
                           "this installation. Refusing to serve English to a Chinese-first back office.")
    return domains


def extracted_msgids() -> set[str]:
    """Every msgid marked for translation in admin_app's Python code and templates."""
    from babel.messages.extract import extract_from_dir

    ids = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
            str(ROOT), METHODS, keywords=KEYWORDS,
            options_map={"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}):
        for m in (message if isinstance(message, tuple) else (message,)):
            if m:
                ids.add(m)
    return ids


def catalog_entries(locale: str = "zh_Hans_CN"):
    """(domain, msgid, translation) of every translated entry of a locale's catalogs, domain by domain."""
    from babel.messages.pofile import read_po

    for po in sorted((TRANSLATIONS / locale / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as fh:
            for msg in read_po(fh, locale=locale):
                if msg.id and msg.string and not msg.fuzzy:
                    yield po.stem, msg.id if isinstance(msg.id, str) else msg.id[0], msg.string


def translated_msgids(locale: str = "zh_Hans_CN") -> dict[str, str]:
    """msgid -> translation over all of a locale's catalogs (empty translations left out)."""
    return {msgid: text for _domain, msgid, text in catalog_entries(locale)}


def clashes(locale: str = "zh_Hans_CN") -> list[str]:
    """msgids two catalogs translate differently: Flask-Babel merges the domains and the last loaded wins."""
    first: dict[str, tuple[str, object]] = {}
    out = []
    for domain, msgid, text in catalog_entries(locale):
        seen = first.setdefault(msgid, (domain, text))
        if seen[1] != text:
            out.append(f"{msgid!r}: {seen[0]} {seen[1]} / {domain} {text}")
    return out


def missing(locale: str = "zh_Hans_CN") -> list[str]:
    """msgids used in the code that no catalog of the locale translates."""
    have = translated_msgids(locale)
    return sorted(m for m in extracted_msgids() if m not in have)


def add_translations(domain: str, pairs: list[tuple[str, str]], locale: str = "zh_Hans_CN") -> int:
    """Add or replace entries of one area's catalog; returns the catalog's size."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    path = TRANSLATIONS / locale / "LC_MESSAGES" / f"{domain}.po"
    if path.exists():
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=locale)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        catalog = Catalog(locale=locale, project="Health Workforce Registry", domain=domain, charset="utf-8")
    for msgid, msgstr in pairs:
        catalog.add(msgid, msgstr)
    with path.open("wb") as fh:
        write_po(fh, catalog, width=0, sort_output=True)
    return len(catalog)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "add":
        lines = [ln.split("\t", 1) for ln in sys.stdin.read().splitlines() if "\t" in ln]
        print(f"{add_translations(sys.argv[2], [(a, b) for a, b in lines])} entries in {sys.argv[2]}.po")
    elif "--missing" in sys.argv:
        for m in missing():
            print(m)
    else:
        print(f"compiled {compile_catalogs()} catalog(s)")
