from tests.conftest import DISTRICT_A


def test_district_officer_reaches_the_dashboard(login):
    c = login(DISTRICT_A)
    assert c.get("/admin/").status_code == 200
