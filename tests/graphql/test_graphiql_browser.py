"""GraphiQL in headless Chromium: it starts under the site's CSP, runs a query, and loads nothing from outside.

Debian's chromium and chromium-driver through Selenium, as tests/e2e does.  The page's scripts and
styles come from our static files; the browser's console must show no CSP refusal, and every
resource the page loaded must come from the live server.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
                       reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"),
]


@pytest.fixture
def browser() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1440,1000", "--lang=en-US"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


def test_graphiql_runs_a_query_under_the_csp(live_server: Any, transactional_db: Any, browser: Any) -> None:
    from django.contrib.auth import get_user_model
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.factories import world

    world()
    get_user_model().objects.create_superuser("sysadmin", password="correct-horse-battery")
    wait = WebDriverWait(browser, 60)  # the shared CPU can be slow to start a 3.5 MB bundle
    browser.get(f"{live_server.url}/graphql/")
    wait.until(ec.url_contains("/login/"))  # a page: anonymous visitors log in first
    browser.find_element(By.NAME, "username").send_keys("sysadmin")
    browser.find_element(By.NAME, "password").send_keys("correct-horse-battery")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(ec.url_contains("/graphql/"))
    run = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, ".graphiql-execute-button")))

    def answered(driver: Any) -> bool:
        """Run the default query until its answer shows (a click before the editors are ready does nothing)."""
        if '"device_list"' in driver.find_element(By.CSS_SELECTOR, ".graphiql-response").text:
            return True
        run.click()
        return False

    WebDriverWait(browser, 60, poll_frequency=2).until(answered)
    response = browser.find_element(By.CSS_SELECTOR, ".graphiql-response").text
    assert '"web01"' in response and '"Zittau"' in response
    # Anything the browser complained about (a CSP refusal is SEVERE), but for its own favicon request.
    refused = [e for e in browser.get_log("browser") if ("Content Security Policy" in e["message"]
               or e["level"] == "SEVERE") and "/favicon.ico" not in e["message"]]
    assert refused == []
    loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert loaded and all(url.startswith(live_server.url) for url in loaded), loaded
