"""The one door for htmx: page or fragment, redirects, toasts, Vary."""
import json

from portal.security import Role

PARTIAL = {"HX-Request": "true", "HX-Request-Type": "partial"}


def test_page_without_htmx_is_the_whole_document(client):
    r = client.get("/login")
    assert r.text.startswith("<!doctype html>")
    assert r.headers["Vary"].startswith("HX-Request") or "HX-Request" in r.headers["Vary"]


def test_invalid_form_comes_back_as_its_fragment_for_htmx(client):
    r = client.post("/login", data={"email": "", "password": ""}, headers=PARTIAL)
    assert r.status_code == 422
    assert r.text.lstrip().startswith("<form")
    assert "<html" not in r.text and "Saisissez votre adresse e-mail." in r.text


def test_invalid_form_without_htmx_is_the_page_with_the_message(client):
    r = client.post("/login", data={"email": "", "password": ""})
    assert r.status_code == 422
    assert "<html" in r.text and "Saisissez votre adresse e-mail." in r.text


def test_full_htmx_request_and_history_restore_get_the_page(client):
    full = client.get("/login", headers={"HX-Request": "true", "HX-Request-Type": "full"})
    restore = client.get("/login", headers=PARTIAL | {"HX-History-Restore-Request": "true"})
    assert "<html" in full.text and "<html" in restore.text


def test_success_redirects_303_without_htmx_and_hx_redirect_with_it(client, make_user):
    user = make_user()
    data = {"email": user.email, "password": "un-mot-de-passe-de-test"}
    plain = client.post("/login", data=data)
    assert plain.status_code == 303 and plain.headers["Location"] == "/"
    client.post("/logout")
    enhanced = client.post("/login", data=data, headers=PARTIAL)
    assert enhanced.status_code == 204 and enhanced.headers["HX-Redirect"] == "/"


def test_flash_travels_as_a_toast_event_on_fragments(client, make_user, login):
    manager = make_user(Role.MANAGER)
    volunteer = make_user(Role.VOLUNTEER, relay=manager.relay, display_name="Yonas")
    login(manager)
    client.post(f"/users/{volunteer.id}/deactivate")  # flashes "Compte de Yonas désactivé."
    r = client.get("/nowhere", headers=PARTIAL)
    events = json.loads(r.headers["HX-Trigger"])
    assert events["toast"]["target"] == "body"
    assert events["toast"]["messages"] == [{"level": "success", "text": "Compte de Yonas désactivé."}]
    # consumed: the next page no longer shows it
    assert "Yonas désactivé" not in client.get("/").text


def test_flash_stays_for_the_page_after_an_hx_redirect(client, make_user, login):
    manager = make_user(Role.MANAGER)
    volunteer = make_user(Role.VOLUNTEER, relay=manager.relay, display_name="Yonas")
    login(manager)
    r = client.post(f"/users/{volunteer.id}/deactivate", headers=PARTIAL)
    assert r.headers["HX-Redirect"] == "/users/" and "HX-Trigger" not in r.headers
    assert "Compte de Yonas désactivé." in client.get("/users/").text
