"""Regions (GB/T 2260) from python-stdnum: loaded idempotently, shaped province → city → county, served as JSON."""
from collections import Counter

import pytest
from sqlalchemy import func, select

from admin_app.extensions import db
from admin_app.models import Region
from admin_app.services.regions import _PLACEHOLDERS, current_regions, load_regions, region_path


def count(level: str | None = None) -> int:
    stmt = select(func.count()).select_from(Region)
    return db.session.scalar(stmt.where(Region.level == level) if level else stmt)


def test_flask_load_regions_fills_an_empty_database_and_a_second_run_writes_nothing(empty_app):
    runner = empty_app.test_cli_runner()
    first = runner.invoke(args=["load-regions"])
    assert first.exit_code == 0, first.output
    total = count()
    assert f"regions written: {total}" in first.output
    second = runner.invoke(args=["load-regions"])
    assert second.exit_code == 0 and "regions written: 0" in second.output
    assert count() == total


def test_load_regions_repairs_a_changed_row_and_leaves_the_rest(empty_app):
    load_regions()
    db.session.get(Region, "110105").name = "旧名"
    db.session.commit()
    assert load_regions() == 1
    assert db.session.get(Region, "110105").name == "朝阳区"


def test_region_counts_match_the_current_national_division(empty_app):
    load_regions()
    assert count("province") == 34
    assert 330 <= count("city") <= 360
    assert 2800 <= count("county") <= 2950


def test_placeholders_like_shixiaqu_never_appear_as_county_names(empty_app):
    load_regions()
    names = set(db.session.scalars(select(Region.name).where(Region.level == "county")))
    assert not names & _PLACEHOLDERS
    assert "市辖区" not in names and "县" not in names


def test_every_region_hangs_from_an_existing_parent_one_level_up(empty_app):
    load_regions()
    regions = {r.code: r for r in db.session.scalars(select(Region))}
    above = {"city": "province", "county": "city"}
    for r in regions.values():
        if r.level == "province":
            assert r.parent_code is None and r.code.endswith("0000")
        else:
            assert regions[r.parent_code].level == above[r.level], r
            assert r.code[:2] == r.parent_code[:2]


def test_no_two_siblings_share_a_name():
    seen = Counter((parent, name) for _code, name, _level, parent in current_regions())
    assert [k for k, n in seen.items() if n > 1] == []


def test_retired_codes_are_left_out():
    codes = {code for code, *_ in current_regions()}
    assert "110103" not in codes  # 崇文区, merged into 东城区 in 2010
    assert {"110101", "110102", "110105", "110112", "440106"} <= codes


def test_municipalities_stand_at_the_city_level_under_their_own_name(empty_app):
    load_regions()
    assert [r.name for r in region_path("110105")] == ["北京市", "北京市", "朝阳区"]
    chongqing = db.session.scalars(select(Region).where(Region.parent_code == "500000").order_by(Region.code)).all()
    assert [r.name for r in chongqing] == ["重庆市", "重庆市（县）"]


# -- GET /api/regions ------------------------------------------------------------------------------------


def test_api_lists_the_provinces_for_an_empty_parent(client):
    resp = client.get("/api/regions?parent=")
    assert resp.status_code == 200 and resp.is_json
    rows = resp.get_json()
    assert len(rows) == 34
    assert {"code": "110000", "name": "北京市", "level": "province"} in rows
    assert client.get("/api/regions").get_json() == rows


def test_api_lists_a_citys_counties(client):
    rows = client.get("/api/regions?parent=110100").get_json()
    assert {"code": "110105", "name": "朝阳区", "level": "county"} in rows
    assert all(r["level"] == "county" and r["code"].startswith("11") for r in rows)
    assert [r["code"] for r in rows] == sorted(r["code"] for r in rows)
    cities = client.get("/api/regions?parent=440000").get_json()
    assert {"code": "440100", "name": "广州市", "level": "city"} in cities


def test_api_answers_an_empty_list_for_a_county(client):
    resp = client.get("/api/regions?parent=110105")
    assert resp.status_code == 200 and resp.get_json() == []


@pytest.mark.parametrize("bad", ["abc", "11010", "1101050", "11o105", "110105;--"])
def test_api_refuses_a_malformed_parent_with_a_400_json_error(client, bad):
    resp = client.get("/api/regions", query_string={"parent": bad})
    assert resp.status_code == 400 and resp.is_json
    body = resp.get_json()
    assert body["ok"] is False and "6 位" in body["error"]


def test_api_answers_an_unknown_parent_with_a_404_json_error(client):
    resp = client.get("/api/regions?parent=999999")
    assert resp.status_code == 404 and resp.is_json
    assert resp.get_json() == {"ok": False, "error": "未知的行政区划代码。"}


def test_api_errors_are_in_english_when_chosen(client):
    resp = client.get("/api/regions?parent=999999&lang=en")
    assert resp.get_json()["error"] == "Unknown region code."


def test_api_answers_anonymous_callers(client):
    """The region picker is on the public registration and application forms."""
    assert client.get("/api/regions?parent=").status_code == 200
