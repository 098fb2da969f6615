"""The institution's own vocabulary (INTAKE_PRODUCTS_FILE): product and brand names give the
business line, branch names and aliases give the branch; a wrong file says which line."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from importlib import resources

import pytest

from workflow.engine import Engine, build_case
from workflow.institution import InstitutionError, parse_institution
from workflow.model import FileCase

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=timezone(timedelta(hours=8)))
EXAMPLE = resources.files("workflow").joinpath("data", "products.example.toml").read_text("utf-8")


@pytest.fixture(scope="module")
def institution():
    return parse_institution(EXAMPLE)


def test_the_shipped_example_parses(institution) -> None:
    names = {p.name: p.business for p in institution.products}
    assert names["微粒贷"] == "loan" and names["金葵花"] == "wealth"
    assert {b.name for b in institution.branches} >= {"江汉路支行"}


@pytest.mark.parametrize(("text", "product", "words"), [
    ("我买的金葵花理财亏了两万", "金葵花", "金葵花理财"),
    ("微粒贷多扣了我300元利息", "微粒贷", "微粒贷"),
    ("I took a weilidai loan and was overcharged", "微粒贷", "weilidai"),
])
def test_products_are_known_by_name_and_alias(institution, text, product, words) -> None:
    found, said = institution.product_in(text)
    assert found.name == product and said == words


@pytest.mark.parametrize(("text", "branch"), [
    ("在江汉路网点排了两个小时", "江汉路支行"),
    ("I was at the Jianghan Road branch", "江汉路支行"),
    ("网点编号WH027的柜员态度很差", "江汉路支行"),  # its code
    ("万达那台ATM吞了我的卡", "万达广场自助银行"),
])
def test_branches_are_known_by_name_alias_and_code(institution, text, branch) -> None:
    assert institution.branch_in(text)[0].name == branch


def test_a_conversation_files_the_products_business_line_and_the_branchs_name(
        institution) -> None:
    engine = Engine(institution=institution)
    step = engine.step(None, "我是张伟，手机13912345678。昨天微粒贷多扣了我300元利息，"
                             "在江汉路网点也没人管，请退还", NOW)
    step = engine.step(step.state, "确认", NOW) if step.state.waiting_for == "confirm" else step
    case = next((e.case for e in step.events if isinstance(e, FileCase)), None)
    case = case or build_case(step.state)
    assert case["business"] == "loan" and "微粒贷" in case["reasons"]["business"]
    assert case["branch"] == "江汉路支行"
    # Without the file the engine has never heard of 微粒贷.
    plain = Engine().step(None, "微粒贷多扣了我300元", NOW).state
    assert plain.value("business") != "loan" or "微粒贷" not in str(
        plain.slots["business"].extra)


def test_a_products_usual_category_applies_when_nothing_else_says(institution) -> None:
    engine = Engine(institution=institution)
    st = engine.step(None, "我想反映一下微粒贷的问题，昨天发生的，我是张伟，手机13912345678",
                     NOW).state
    case = build_case(st)
    assert case["category"] == "product" and case["reasons"]["category"]["product"] == ["微粒贷"]
    # A cue in the words wins over the product's usual category.
    st = engine.step(None, "微粒贷的客服态度很差，我是张伟，手机13912345678", NOW).state
    assert build_case(st)["category"] == "service"


@pytest.mark.parametrize(("text", "line", "says"), [
    ('[[product]]\nname = "微粒贷"\nbusiness = "loans"\n', 3, "unknown business line 'loans'"),
    ('[[product]]\nname = "A"\nbusiness = "loan"\n\n[[product]]\nname = "B"\n'
     'business = "loan"\ncategory = "fees"\n', 8, "unknown category 'fees'"),
    ('[[branch]]\naliases = ["x"]\n', 1, "needs a name"),
    ('[[product]]\nname = "A"\nbusiness = "loan"\naliases = "A1"\n', 4,
     "aliases must be a list"),
])
def test_a_wrong_file_names_the_line(text, line, says) -> None:
    with pytest.raises(InstitutionError) as caught:
        parse_institution(text)
    assert f"line {line}:" in str(caught.value) and says in str(caught.value)


def test_a_file_that_does_not_parse_says_where() -> None:
    with pytest.raises(InstitutionError, match=r"not valid TOML: .*line 1"):
        parse_institution('[[product]\nname = "x"\n')
