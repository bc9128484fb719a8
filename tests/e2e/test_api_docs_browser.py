"""The API documentation renders offline: Swagger UI (/api/docs/) and ReDoc (/api/redoc/) in headless Chromium.

Every request the browser makes is read from Chrome's performance log (the DevTools network
events): none may leave the loopback address, so the pages work on a machine without Internet
(issue 14 found /api/docs/ blank offline: it loaded Swagger UI from a CDN).  The console must show
no Content-Security-Policy refusal: the pages run under the same CSP as the rest of the UI.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
                       reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"),
]


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1440,1000", "--lang=en-US",
                # Chromium's own background traffic (updates, safe browsing) is not the page's.
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--disable-default-apps"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def requested_urls(browser) -> list[str]:
    """Every URL the page sent a request to since the last call (DevTools network events).

    A request the Content-Security-Policy refused is announced (``requestWillBeSent``) but never
    sent: ``loadingFailed`` reports it with ``blockedReason: csp``; those are left out.
    """
    sent: dict[str, str] = {}
    blocked: set[str] = set()
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            sent[params["requestId"]] = params["request"]["url"]
        elif message["method"] == "Network.loadingFailed" and params.get("blockedReason") == "csp":
            blocked.add(params["requestId"])
    return [url for rid, url in sent.items() if rid not in blocked]


def non_local(urls: list[str]) -> list[str]:
    out = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            continue
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            out.append(url)
    return out


def csp_refusals(browser) -> list[str]:
    return [e["message"] for e in browser.get_log("browser")
            if "Content Security Policy" in e["message"] or "Refused to" in e["message"]]


#: ReDoc's sidebar shows Redocly's logo from their CDN: the CSP refuses it, which is the point.
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def test_swagger_ui_and_redoc_render_without_leaving_the_machine(live_server, transactional_db, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 60)
    SHOTS.mkdir(parents=True, exist_ok=True)

    browser.get(f"{live_server.url}/api/docs/")
    # Swagger UI read the whole schema and rendered its operations (it draws those in view; the
    # page's own state holds all paths).
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".opblock .opblock-summary-path")))
    paths = wait.until(lambda d: d.execute_script(
        "return window.ui && window.ui.specSelectors.paths().keySeq().toArray()"))
    assert len(paths) > 100
    assert {"/api/dcim/devices/", "/api/monitoring/sd/{source}/", "/api/ansible/inventory/",
            "/api/services/impact/", "/api/software/compliance/"} <= set(paths)
    shown = [b.get_attribute("textContent") for b in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")]
    assert "/api/" in shown
    urls = requested_urls(browser)
    assert any(u.endswith("/api/schema/?format=json") for u in urls)
    assert any("swagger-ui-bundle.js" in u for u in urls)
    assert non_local(urls) == []
    assert csp_refusals(browser) == []
    browser.save_screenshot(str(SHOTS / "api-docs.png"))

    browser.get(f"{live_server.url}/api/redoc/")
    # ReDoc's menu lists the operations once it has read the schema.
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "[role=menuitem], li[data-item-id]")))
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "li[data-item-id]")) > 100)
    # Its search runs (in a worker the page's policy allows).
    box = browser.find_element(By.CSS_SELECTOR, "input[placeholder='Search...']")
    box.send_keys("virtual-machines")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "[data-role='search:results'] li, [role=search] li"))
    urls = requested_urls(browser)
    assert any("redoc.standalone.js" in u for u in urls)
    assert non_local(urls) == []
    refused = csp_refusals(browser)
    assert [m for m in refused if REDOC_LOGO not in m] == [], refused
    browser.save_screenshot(str(SHOTS / "api-redoc.png"))
