"""Browser fixtures: the app served on a loopback port, and a headless Debian Chromium page."""

import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def closed_first(app):
    """The app's answers read whole, and their files closed, before the server writes them. When a browser drops a
    connection (a favicon it no longer waits for), werkzeug's development server fails reading what is left of
    the request and skips the answer's close(): the static file it was sending stayed open, and the
    ResourceWarning failed whichever browser test was running (filterwarnings = error)."""

    def wsgi(environ, start_response):
        answer = app(environ, start_response)
        try:
            return [b"".join(answer)]
        finally:
            if hasattr(answer, "close"):
                answer.close()

    return wsgi


@pytest.fixture
def live_server(app, monkeypatch):
    """Serve the app on a free loopback port in a daemon thread; absolute links point there."""
    server = make_server("127.0.0.1", 0, closed_first(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", f"http://127.0.0.1:{server.server_port}")
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def browser_page(live_server):
    """A fresh Chromium page; closed before the live server stops. Records JS errors and 5xx answers."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "99-failure.png").unlink(missing_ok=True)  # only the latest run's failure, if any
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN",
                                      timezone_id="Asia/Shanghai")
        context.set_default_timeout(20_000)
        expect.set_options(timeout=15_000)  # the 5 s default is tight on a loaded 2-core box
        page = context.new_page()
        page.js_errors, page.server_errors = [], []
        page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
        page.on("response", lambda resp: resp.status >= 500 and page.server_errors.append(f"{resp.status} {resp.url}"))
        try:
            yield page
        finally:
            expect.set_options(timeout=5_000)
            context.close()
            browser.close()


@pytest.fixture
def screenshots(app, browser_page):
    """``screenshots(prefix)``: ``shot(name)`` saves a full-page screenshot of the page as
    test-artifacts/screenshots/<backend>/<prefix>-<name>.png."""
    folder = SCREENSHOTS / app.config["DB_BACKEND"]
    folder.mkdir(parents=True, exist_ok=True)

    def named(prefix):
        def shot(name):
            browser_page.screenshot(path=str(folder / f"{prefix}-{name}.png"), full_page=True)
        return shot

    return named


def crm_sign_in(page, crm, username, password):
    """Sign in on a company's CRM login page (``crm``: ``<server>/t/<code>``) and land on its workspace."""
    page.goto(f"{crm}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.press("input[name=password]", "Enter")
    expect(page).to_have_url(f"{crm}/")
