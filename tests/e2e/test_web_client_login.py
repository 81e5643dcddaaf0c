"""The web client's login and its guards, against the real server in front of the real gateway:
no session, no `/api/*` (401); a cross-site POST is refused (403); a wrong Host is refused (400);
every HTML answer carries the CSP; and a person logs in with the password in a real browser,
on a desktop and on a phone. Screenshots: web-client-login-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS, PASSWORD
from tests.support.chat_page import marker, send

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
CHAT = {"model": "fake-model", "routing_mode": "passthrough", "messages": [{"role": "user", "content": "hi"}]}


@contextmanager
def logged_in(web_client) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web_client.url, timeout=30) as client:
        response = client.post("/api/login", json={"password": PASSWORD})
        assert response.status_code == 200, response.text
        yield client


def test_without_the_session_every_api_call_is_401_in_the_openai_shape(locked_web_client):
    for method, path in (("GET", "/api/config"), ("GET", "/api/models"), ("POST", "/api/chat")):
        response = httpx.request(method, locked_web_client.url + path, json=CHAT, timeout=30)
        print(f"{method} {path} without a session: {response.status_code}")
        assert response.status_code == 401
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert (error["type"], error["code"]) == ("authentication_error", "login_required")
    assert httpx.get(locked_web_client.url + "/api/session").json() == {"authenticated": False, "open": False}
    # The page itself and health need no session (they hold nothing).
    assert httpx.get(locked_web_client.url + "/").status_code == 200
    assert httpx.get(locked_web_client.url + "/health").status_code == 200


def test_a_wrong_password_gets_no_session_and_a_forged_cookie_is_ignored(locked_web_client):
    with httpx.Client(base_url=locked_web_client.url, timeout=30) as client:
        wrong = client.post("/api/login", json={"password": "guess"})
        assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "invalid_password")
        assert "web_client_session" not in wrong.headers.get("set-cookie", "")
        client.cookies.set("web_client_session", "eyJsb2dpbiI6IHRydWV9.forged.signature")
        assert client.get("/api/config").status_code == 401


def test_after_too_many_wrong_passwords_even_the_right_one_waits(start_web_client, agent_gateway):
    # A web client of its own: the shared one's budget of failures belongs to the other tests.
    throttled = start_web_client(agent_gateway, password=PASSWORD, login_attempts_per_minute=2)
    with httpx.Client(base_url=throttled.url, timeout=30) as client:
        tries = [client.post("/api/login", json={"password": f"guess {n}"}).status_code for n in range(2)]
        refused = client.post("/api/login", json={"password": PASSWORD})
        print(f"2 wrong passwords: {tries}; then the right one: {refused.status_code} {refused.json()}")
        assert tries == [401, 401]
        assert (refused.status_code, refused.json()["error"]["code"]) == (429, "too_many_logins")
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert "web_client_session" not in refused.headers.get("set-cookie", "")
        assert client.get("/api/config").status_code == 401


def test_the_login_sets_a_strict_httponly_cookie_that_opens_the_api(locked_web_client):
    with logged_in(locked_web_client) as client:
        cookie = client.post("/api/login", json={"password": PASSWORD}).headers["set-cookie"].lower()
        print(f"session cookie attributes: {cookie.split(';', 1)[1].strip()}")
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        assert "secure" not in cookie  # plain HTTP here; WEB_CLIENT_COOKIE_SECURE=true behind TLS
        assert client.get("/api/session").json() == {"authenticated": True, "open": False}
        assert client.get("/api/models").status_code == 200
        chat = client.post("/api/chat", json=CHAT)
        assert chat.status_code == 200
        assert "data: [DONE]" in chat.text
        assert client.post("/api/logout", json={}).status_code == 200
        assert client.get("/api/config").status_code == 401


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://other.localhost"},
    ],
)
def test_a_cross_site_post_is_refused_even_with_the_session(locked_web_client, headers):
    with logged_in(locked_web_client) as client:
        response = client.post("/api/chat", json=CHAT, headers=headers)
        print(f"cross-site POST {headers}: {response.status_code}")
        assert (response.status_code, response.json()["error"]["code"]) == (403, "cross_site_request")
        login = client.post("/api/login", json={"password": PASSWORD}, headers=headers)
        assert login.status_code == 403


def test_a_post_that_is_not_json_is_refused(locked_web_client):
    # A plain HTML form can send text/plain that looks like JSON without a preflight: not accepted.
    with logged_in(locked_web_client) as client:
        response = client.post("/api/chat", content=b'{"a": 1}', headers={"content-type": "text/plain"})
        assert (response.status_code, response.json()["error"]["code"]) == (415, "not_json")


def test_a_wrong_host_is_refused(locked_web_client):
    # DNS rebinding: a page on attacker.example whose name now points at 127.0.0.1.
    response = httpx.get(locked_web_client.url + "/", headers={"Host": "attacker.example:8080"})
    print(f"Host attacker.example: {response.status_code}")
    assert response.status_code == 400
    assert httpx.get(locked_web_client.url + "/", headers={"Host": "localhost"}).status_code == 200


@pytest.mark.parametrize("path", ["/", "/static/index.html"])
def test_every_html_answer_has_the_content_security_policy(locked_web_client, web_client, path):
    for client in (locked_web_client, web_client):
        response = httpx.get(client.url + path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_person_logs_in_in_the_browser_and_chats(page, locked_web_client, viewport):
    name = "desktop" if viewport == DESKTOP else "phone"
    page.set_viewport_size(viewport)
    page.goto(locked_web_client.url)
    expect(page.get_by_test_id("login")).to_be_visible()
    expect(page.get_by_test_id("conversation")).to_be_hidden()
    for button in ("new-chat", "settings-toggle", "logout"):
        expect(page.get_by_test_id(button)).to_be_hidden()
    expect(page.get_by_test_id("password")).to_be_focused()
    page.get_by_test_id("password").fill("not it")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("Wrong password")
    page.screenshot(path=ARTIFACTS / f"web-client-login-{name}.png")

    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("models-status")).to_contain_text("models from the gateway")
    expect(page.get_by_test_id("logout")).to_be_visible()
    # The page's own POSTs (same-origin, JSON) pass the cross-site guard.
    tag = marker()
    turn = send(page, f"Hello after the login {tag}")
    expect(turn).to_have_attribute("data-state", "done")
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["web_client_session"]
    assert (session["httpOnly"], session["sameSite"]) == (True, "Strict")
    assert not page.evaluate("document.cookie.includes('web_client_session')")  # HttpOnly: not readable by scripts
    page.screenshot(path=ARTIFACTS / f"web-client-logged-in-{name}.png")

    page.reload()
    expect(page.get_by_test_id("models-status")).to_contain_text("models from the gateway")
    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("login")).to_be_visible()
