"""Chinese first: every message in the code has a zh_Hans_CN translation, and pages follow the chosen language."""
import pytest

from admin_app import i18n


def test_every_msgid_in_the_code_and_templates_has_a_chinese_translation():
    missing = i18n.missing()
    assert missing == [], (
        f"{len(missing)} message(s) without a Chinese translation; add them with\n"
        "  printf 'msgid\\tmsgstr\\n' | python -m admin_app.i18n add DOMAIN\n" + "\n".join(missing))


def test_translations_keep_their_placeholders():
    """A translation that drops or renames %(n)d would crash (or lie) at run time."""
    import re

    spec = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?([sdifFeEgGxXrc])")
    bad = []
    for msgid, msgstr in i18n.translated_msgids().items():
        if sorted(spec.findall(msgid)) != sorted(spec.findall(msgstr)):
            bad.append((msgid, msgstr))
    assert bad == []


def test_no_msgid_is_translated_two_ways_across_the_catalogs():
    """Flask-Babel merges the domains and the last one loaded wins: the API client grid's 吊销 button read 撤销."""
    assert i18n.clashes() == []


def test_the_extractor_sees_the_code_and_the_templates():
    ids = i18n.extracted_msgids()
    assert "Wrong phone number or password; %(n)d tries left before the phone is locked." in ids  # services
    assert "Overview of my jurisdiction" in ids  # templates
    assert "Pending review" in ids  # N_ labels


def test_catalogs_compile_and_are_up_to_date():
    i18n.compile_catalogs()
    for po in i18n.TRANSLATIONS.glob("*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        assert mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime, po.name


def test_a_page_is_chinese_by_default(client):
    html = client.get("/login").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert "登录" in html and "卫生健康人员信息管理系统" in html
    assert "Sign in" not in html


def test_lang_en_switches_to_english_and_the_choice_is_remembered(client):
    html = client.get("/login?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Sign in" in html and "Health Workforce Registry" in html
    assert "登录" not in html
    assert "Sign in" in client.get("/login").get_data(as_text=True)
    assert "登录" in client.get("/login?lang=zh_Hans_CN").get_data(as_text=True)


@pytest.mark.parametrize("lang", ["fr", "xx", "", "zh"])
def test_an_unsupported_language_falls_back_to_chinese(client, lang):
    assert "登录" in client.get(f"/login?lang={lang}").get_data(as_text=True)


def test_the_language_switch_link_is_on_the_page(client):
    assert "?lang=en" in client.get("/login").get_data(as_text=True)
    assert "?lang=zh_Hans_CN" in client.get("/login?lang=en").get_data(as_text=True)
