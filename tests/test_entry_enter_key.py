"""Enter in a field submits a form with its first submit button (HTML's implicit submission): on every form whose
获取验证码 or 查找 button comes before its own, Enter must do what the form is for, not send another code."""
import re

import pytest

from tests.test_registry_grants import HOSPITAL_A_NAME, inst, make_user


def first_submit(html: str, form_marker: str = '<form method="post"') -> str:
    form = html[html.index(form_marker):]
    form = form[:form.index("</form>")]
    return re.search(r"<button\b[^>]*type=\"submit\"[^>]*>", form).group(0)


@pytest.mark.parametrize(("url", "expect"), [
    ("/register", 'name="action" value="register"'),
    ("/forgot-password", 'name="action" value="reset"'),
    ("/login/sms", 'name="action" value="login"'),
])
def test_enter_in_a_sign_up_or_reset_field_submits_the_form_not_another_code(client, url, expect):
    button = first_submit(client.get(url).get_data(as_text=True))
    assert expect in button and 'tabindex="-1"' in button


def test_enter_in_the_institution_application_submits_it(client):
    button = first_submit(client.get("/institutions/apply").get_data(as_text=True), 'id="apply-form"')
    assert "name=" not in button  # the form's own submit carries no name; 获取验证码 and 查找 do


def test_enter_in_the_bind_form_binds(app, login):
    lead, _number = make_user("13911110002", "王院长", inst(HOSPITAL_A_NAME))
    button = first_submit(login(lead.phone).get("/grants/bind").get_data(as_text=True), 'id="bind-form"')
    assert "name=" not in button
