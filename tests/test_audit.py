"""The audit log: what is recorded, and that admins read it."""
from portal.security import Role


def test_admin_reads_logins_and_changes(client, login, make_user):
    admin = make_user(Role.ADMIN, display_name="Admin Test")
    client.post("/login", data={"email": "intrus@test.example", "password": "mauvais-mot"},
                environ_base={"REMOTE_ADDR": "203.0.113.9"})
    login(admin)
    client.post("/territories/new", data={"name": "Savoie"})
    page = client.get("/audit/").text
    for expected in ("login.failure", "intrus@test.example", "203.0.113.9", "login.success",
                     "territory.save", "Savoie", "Admin Test"):
        assert expected in page


def test_filter_by_action_as_page_and_fragment(client, login, make_user):
    login(make_user(Role.ADMIN))
    client.post("/territories/new", data={"name": "Savoie"})
    page = client.get("/audit/?action=territory").text
    assert "territory.save" in page and "login.success</td>" not in page
    fragment = client.get("/audit/?action=territory", headers={"HX-Request": "true", "HX-Request-Type": "partial"})
    assert fragment.text.lstrip().startswith('<div id="events">') and "territory.save" in fragment.text
