"""Institutions in the tree: created with their materialized path; bad input refused with nothing written."""
import pytest
from flask import Flask
from sqlalchemy import func, select
from stdnum.cn import uscc

from admin_app.extensions import db
from admin_app.models import Institution
from admin_app.services import ServiceError
from admin_app.services.codes import ALPHABET
from admin_app.services.institutions import check_uscc, create_institution, initials, search_institutions

XICHENG = "北京市西城区卫生健康委员会"
CHAOYANG = "北京市朝阳区卫生健康委员会"


def make_uscc(body17: str) -> str:
    return body17 + uscc.calc_check_digit(body17)


GOOD_USCC = make_uscc("12110102MB0000001")


def inst(name: str) -> Institution:
    return db.session.scalar(select(Institution).where(Institution.name == name))


def institution_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Institution))


@pytest.fixture
def zh(app: Flask):
    """Service messages come out in the request's language: Chinese unless English was chosen."""
    with app.test_request_context("/"):
        yield


def refused(message: str, **kwargs) -> None:
    """create_institution(**kwargs) is refused with `message`, and nothing reaches the database."""
    before = institution_count()
    with pytest.raises(ServiceError) as err:
        create_institution(**kwargs)
    assert str(err.value) == message
    assert not db.session.new
    db.session.commit()
    assert institution_count() == before


def test_a_new_unit_gets_its_path_depth_initials_and_a_confirmation_code(app, zh):
    parent = inst(XICHENG)
    unit = create_institution("北京市西城区新街口社区卫生服务中心", parent=parent, category="primary_care",
                              region_code="110102", uscc=GOOD_USCC.lower(), address="新街口东街 1 号")
    db.session.commit()
    assert unit.path == f"{parent.path}{unit.id}/"
    assert unit.depth == parent.depth + 1
    assert unit.parent_id == parent.id
    assert unit.uscc == GOOD_USCC
    assert unit.name_initials == "bjsxcqxjksqwsfwzx"
    assert len(unit.confirmation_code) == 8 and set(unit.confirmation_code) <= set(ALPHABET)
    assert unit.require_confirmation_code is True


def test_a_root_institution_has_a_one_step_path(empty_app):
    with empty_app.test_request_context("/"):
        root = create_institution("国家卫生健康委员会", parent=None, category="commission")
        db.session.commit()
    assert root.path == f"/{root.id}/" and root.depth == 0


def test_a_new_unit_under_a_district_is_in_that_districts_subtree_only(app, zh):
    unit = create_institution("北京市西城区测试单位", parent=inst(XICHENG))
    db.session.commit()
    assert unit.path.startswith(inst(XICHENG).path)
    assert not unit.path.startswith(inst(CHAOYANG).path)


def test_an_unknown_region_code_is_refused(app, zh):
    refused("未知的行政区划代码。", name="某单位", parent=inst(XICHENG), region_code="999999")


@pytest.mark.parametrize("bad", ["1211010", GOOD_USCC + "1", "I" + GOOD_USCC[1:], GOOD_USCC[:8] + "!" + GOOD_USCC[9:]])
def test_an_invalid_unified_social_credit_code_is_refused(app, zh, bad):
    refused("统一社会信用代码无效。", name="某单位", parent=inst(XICHENG), uscc=bad)


def test_a_wrong_check_character_in_the_uscc_is_refused(app, zh):
    wrong = GOOD_USCC[:-1] + ("0" if GOOD_USCC[-1] != "0" else "1")
    refused("统一社会信用代码无效。", name="某单位", parent=inst(XICHENG), uscc=wrong)


def test_a_duplicate_name_under_the_same_parent_is_refused(app, zh):
    existing = "北京市西城区人民医院"
    refused("同一主管单位下已有同名机构。", name=f"  {existing} ", parent=inst(XICHENG))


def test_the_same_name_under_another_parent_is_allowed(app, zh):
    unit = create_institution("北京市西城区人民医院", parent=inst(CHAOYANG))
    db.session.commit()
    assert unit.parent_id == inst(CHAOYANG).id


def test_a_duplicate_uscc_is_refused_anywhere_in_the_tree(app, zh):
    create_institution("甲单位", parent=inst(XICHENG), uscc=GOOD_USCC)
    db.session.commit()
    refused("已有使用该统一社会信用代码的机构。", name="乙单位", parent=inst(CHAOYANG), uscc=GOOD_USCC)


def test_an_empty_name_or_unknown_category_is_refused(app, zh):
    refused("请输入机构名称。", name="   ", parent=inst(XICHENG))
    refused("未知的机构类别。", name="某单位", parent=inst(XICHENG), category="casino")


def test_legacy_units_may_have_no_uscc(app, zh):
    a = create_institution("无代码单位甲", parent=inst(XICHENG), uscc=None)
    b = create_institution("无代码单位乙", parent=inst(XICHENG), uscc="")
    db.session.commit()
    assert a.uscc is None and b.uscc is None


def test_check_uscc_compacts_and_upper_cases(app, zh):
    spaced = f"{GOOD_USCC[:6]} {GOOD_USCC[6:12]}-{GOOD_USCC[12:]}".lower()
    assert check_uscc(spaced) == GOOD_USCC


def test_messages_are_english_when_english_was_chosen(app):
    with app.test_request_context("/?lang=en"), pytest.raises(ServiceError, match="Unknown region code"):
        create_institution("某单位", parent=inst(XICHENG), region_code="999999")


def test_pinyin_initials_of_a_unit_name():
    assert initials("北京市西城区疾病预防控制中心") == "bjsxcqjbyfkzzx"


def test_units_are_found_by_name_fragment_and_by_pinyin_initials(app):
    assert "北京市西城区疾病预防控制中心" in [i.name for i in search_institutions("西城区疾病")]
    assert "北京市西城区疾病预防控制中心" in [i.name for i in search_institutions("bjxc", limit=50)]
    assert search_institutions("%_") == []  # LIKE wildcards are searched for literally
