"""A real browser: headless Chromium loads GraphiQL from the running server and runs a query."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator

import pytest

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="BROWSER CHECK SKIPPED: Debian chromium + chromium-driver are not installed "
        "(apt-get install -y chromium chromium-driver)",
    ),
]

QUERY = '{ shipment(id: "SHP-0001") { id status totalTransitHours } }'


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    webdriver = pytest.importorskip("selenium.webdriver", reason="BROWSER CHECK SKIPPED: selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_graphiql_runs_a_query_in_chromium(browser, spine, kit) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    with kit.serve(kit.settings(spine.settings)) as url:
        browser.get(f"{url}/graphql")
        wait = WebDriverWait(browser, 30)
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".graphiql-container")))
        # What a user types into the Headers and query editors, persisted by GraphiQL itself.
        browser.execute_script(
            "localStorage.setItem('graphiql:headers', arguments[0]);"
            "localStorage.setItem('graphiql:query', arguments[1]);",
            json.dumps(kit.read),
            QUERY,
        )
        browser.refresh()
        wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, ".graphiql-execute-button"))).click()
        wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".graphiql-response"), "DELIVERED"))
        response = browser.find_element(By.CSS_SELECTOR, ".graphiql-response").text
        # Every asset came from this server: the page works with no internet.
        sources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert '"id": "SHP-0001"' in response and '"totalTransitHours": 7.63' in response
    assert sources and all(s.startswith((url, "data:")) for s in sources)  # data: URIs are inline (fonts)


def test_graphiql_opens_with_the_configured_key_and_runs_a_query(browser, spine, kit) -> None:
    """A local run: the Headers tab holds the dev key on a first visit, so a query runs without typing it."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    with kit.serve(kit.settings(spine.settings, graphiql_headers=kit.read)) as url:
        browser.get(f"{url}/graphql")
        # A first visit as far as headers go: nothing stored but the query to run (the query editor
        # would otherwise hold whatever an earlier page on this origin left behind, even nothing).
        browser.execute_script("localStorage.clear(); localStorage.setItem('graphiql:query', arguments[0]);", QUERY)
        browser.refresh()
        wait = WebDriverWait(browser, 60)
        editors_script = "return [...document.querySelectorAll('.CodeMirror')].map(e => e.CodeMirror.getValue())"
        try:  # the Headers tab is filled once GraphiQL has set up its editors
            editors = wait.until(
                lambda driver: (
                    (found := driver.execute_script(editors_script))
                    and any("test-read-key" in text for text in found)
                    and found
                )
            )
        except TimeoutException:
            pytest.fail(f"the Headers tab never held the key; editors: {browser.execute_script(editors_script)!r}")
        wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, ".graphiql-execute-button"))).click()
        try:
            # Without a key the answer would be a 401: the query ran with the header GraphiQL opened with.
            wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".graphiql-response"), "DELIVERED"))
        except TimeoutException:
            response = browser.find_element(By.CSS_SELECTOR, ".graphiql-response").text
            pytest.fail(f"no answer within 60 s; response pane: {response!r}; editors: {editors!r}")
    assert any('"X-API-Key": "test-read-key"' in text for text in editors)  # the Headers tab


def test_swagger_ui_renders_offline_from_this_server(browser, spine, kit) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    with kit.serve(kit.settings(spine.settings)) as url:
        browser.get(f"{url}/docs")
        WebDriverWait(browser, 30).until(
            ec.text_to_be_present_in_element(
                (By.CSS_SELECTOR, ".swagger-ui"), "/api/v1/shipments/{shipment_id}/timeline"
            )
        )
        sources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert sources and all(s.startswith((url, "data:")) for s in sources)
