"""End to end in headless Chromium (Debian's chromium + chromium-driver, driven by Selenium).

A sysadmin with a TOTP authenticator logs in with a code computed from the device's key
(the same django-otp library as the server), searches for a serial, opens the device,
edits a field and sees the change in the device's history.  Screenshots of the
dashboard, a list and a detail page go to docs/screenshots/ (kept as CI artifacts and
shown in the README).  The demo university is loaded first so the pages look real.
"""

from __future__ import annotations

import shutil
from pathlib import Path

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
                "--window-size=1440,1000", "--lang=en-US"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


def _totp(device) -> str:
    from django_otp.oath import totp

    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def test_login_with_totp_search_edit_and_history(live_server, transactional_db, browser):
    from django.contrib.auth import get_user_model
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from cmdb.dcim.models import Device
    from cmdb.demo.generator import generate

    generate(scale=1)
    user = get_user_model().objects.create_superuser("sysadmin", password="correct-horse-battery")
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    target = Device.objects.exclude(serial="").filter(rack__isnull=False).order_by("name").first()
    wait = WebDriverWait(browser, 15)

    browser.get(f"{live_server.url}/")
    browser.find_element(By.LINK_TEXT, "Log in").click()
    wait.until(ec.url_contains("/login/"))
    browser.find_element(By.NAME, "username").send_keys("sysadmin")
    browser.find_element(By.NAME, "password").send_keys("correct-horse-battery")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(ec.url_contains("/login/verify/"))
    browser.find_element(By.NAME, "code").send_keys(_totp(device))
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".bars")))
    assert "Dashboard" in browser.title
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SHOTS / "dashboard.png"))

    box = browser.find_element(By.CSS_SELECTOR, "header form.search input[name=q]")
    box.send_keys(target.serial)
    box.submit()
    wait.until(ec.presence_of_element_located((By.ID, "search-results")))
    browser.find_element(By.CSS_SELECTOR, f'#search-results a[href="/dcim/devices/{target.pk}/"]').click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "object-title"), target.name))

    browser.find_element(By.ID, "edit-button").click()
    field = wait.until(ec.presence_of_element_located((By.NAME, "description")))
    field.clear()
    field.send_keys("Moved to the new UPS circuit")
    browser.find_element(By.CSS_SELECTOR, "#object-form button[type=submit]").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "history"), "Moved to the new UPS circuit"))
    history = browser.find_element(By.ID, "history").text
    assert "sysadmin" in history and "description" in history
    assert Device.objects.get(pk=target.pk).description == "Moved to the new UPS circuit"
    browser.save_screenshot(str(SHOTS / "device-detail.png"))

    browser.get(f"{live_server.url}/dcim/devices/?per_page=25&role=server")
    wait.until(ec.presence_of_element_located((By.ID, "object-list")))
    browser.save_screenshot(str(SHOTS / "device-list.png"))
