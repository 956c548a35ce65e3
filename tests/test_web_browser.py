"""The dashboard end to end in a real browser: Debian's chromium, headless, driven
by Selenium through chromium-driver, against the real `specqc serve` (uvicorn)
on a free loopback port. Outside CI these skip when chromium is not installed;
with CI=true they fail instead."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _dashboard import MARKUP_NAME, REVIEWER, REVIEWER_PASSWORD, VIEWER, VIEWER_PASSWORD, build_site, cli, copy_site
from conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1000",
)
WAIT_S = 30


def _browser_missing() -> str | None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        return f"{', '.join(missing)} not installed (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    return None


def _require_browser() -> None:
    reason = _browser_missing()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests must run in CI: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The real server over a store with two analyses and two accounts."""
    _require_browser()
    root = tmp_path_factory.mktemp("served")
    site = build_site(root)
    port = _free_port()
    log = (root / "serve.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "specqc.cli", "serve", "--store", str(site.store), "--port", str(port)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail("specqc serve did not start: " + (root / "serve.log").read_text())
            time.sleep(0.2)
    yield site, f"http://127.0.0.1:{port}"
    server.send_signal(signal.SIGINT)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    log.close()


@pytest.fixture
def chromium(tmp_path):
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS + (f"--user-data-dir={tmp_path / 'profile'}",):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(WAIT_S)
    yield driver
    driver.quit()


def _wait(driver, condition):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S).until(condition)


def _log_in(driver, base: str, name: str, password: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    driver.get(base + "/")
    _wait(driver, ec.presence_of_element_located((By.ID, "login")))
    assert driver.current_url.startswith(base + "/login")  # every page needs a login
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login").click()
    _wait(driver, ec.text_to_be_present_in_element((By.ID, "account"), name))


def test_reviewer_opens_a_batch_sees_the_plots_and_signs_off(served, chromium, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    site, base = served
    _log_in(chromium, base, REVIEWER, REVIEWER_PASSWORD)
    chromium.find_element(By.CSS_SELECTOR, "#batches").find_element(By.LINK_TEXT, "B-1").click()
    _wait(chromium, ec.text_to_be_present_in_element((By.ID, "batch-name"), "B-1"))
    rows = chromium.find_elements(By.CSS_SELECTOR, "#stages tbody tr")
    assert len(rows) == 1 and "incomplete-deprotection" in rows[0].text
    rows[0].find_element(By.LINK_TEXT, "dz-deprotection-boc-left").click()
    _wait(chromium, ec.text_to_be_present_in_element((By.ID, "sample"), "dz-deprotection-boc-left"))
    assert chromium.current_url == f"{base}/analyses/{site.boc_left}"

    # the chromatograms are drawn: laid out at a real size, with a trace inside the frame
    plots = chromium.find_elements(By.CSS_SELECTOR, "#plots svg.plot")
    assert len(plots) == 3
    for plot in plots:
        assert plot.size["width"] > 500 and plot.size["height"] > 80
        trace = plot.find_element(By.TAG_NAME, "polyline")
        box = chromium.execute_script("const b = arguments[0].getBBox(); return [b.width, b.height];", trace)
        assert box[0] > 100 and box[1] > 10
    assert plots[0].get_attribute("aria-label") == "TIC (positive)"

    report_sha = chromium.find_element(By.ID, "report-sha").text
    chromium.find_element(By.ID, "decision-approved").click()
    chromium.find_element(By.ID, "comment").send_keys("Boc left; approved for rework")
    chromium.find_element(By.ID, "signature-password").send_keys(REVIEWER_PASSWORD)
    chromium.find_element(By.ID, "sign").click()
    _wait(chromium, ec.presence_of_element_located((By.CSS_SELECTOR, "li.signature")))
    signature = chromium.find_element(By.CSS_SELECTOR, "li.signature").text
    assert "Signed by rita (reviewer)" in signature and "Approved: I reviewed this analysis" in signature
    assert report_sha in signature and "Boc left; approved for rework" in signature

    # in the audit chain: who, the decision, the report signed; and the chain verifies
    with sqlite3.connect(site.store) as raw:
        ((actor, detail),) = raw.execute("SELECT actor, detail FROM audit WHERE action='review'").fetchall()
    assert actor.startswith("rita@") and actor.endswith("(web)")
    sealed = json.loads(detail)
    assert (sealed["decision"], sealed["reviewer"], sealed["report_sha256"]) == ("approved", REVIEWER, report_sha)
    verified = cli("records", "--store", site.store, "verify")
    assert verified.returncode == 0 and verified.stdout.strip().endswith("OK"), verified.stdout

    # a review changed behind the store's back is caught
    tampered = copy_site(site, tmp_path)
    with sqlite3.connect(tampered.store) as raw:
        raw.execute("DROP TRIGGER reviews_no_update")
        raw.execute("UPDATE reviews SET decision='rejected'")
    caught = cli("records", "--store", tampered.store, "verify")
    assert (
        caught.returncode == 4
        and "reviews row seq=1, reviewer='rita': changed behind the store's back" in caught.stdout
    )


def test_viewer_cannot_sign_in_the_browser(served, chromium):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    site, base = served
    _log_in(chromium, base, VIEWER, VIEWER_PASSWORD)
    chromium.get(f"{base}/analyses/{site.markup}")
    # a file name made of markup is shown as the text it is, nothing of it became an element
    assert chromium.find_element(By.ID, "sample").text == MARKUP_NAME
    assert chromium.find_elements(By.CSS_SELECTOR, "main img, main b #sample") == []
    assert "cannot sign reviews" in chromium.find_element(By.ID, "cannot-review").text
    assert chromium.find_elements(By.ID, "review-form") == []
    # the page's CSP lets no script reach the API (fetch is blocked) ...
    fetched = chromium.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        fetch(arguments[0], {method: 'POST', body: '{}'}).then(r => done(r.status), e => done(String(e)));
    """,
        f"{base}/api/analyses/{site.markup}/review",
    )
    assert fetched == "TypeError: Failed to fetch"
    # ... and the review form posted by hand from the viewer's session, CSRF token included, is refused
    chromium.execute_script(
        """
        const form = document.createElement('form');
        form.method = 'post';
        form.action = arguments[0];
        const fields = {csrf: document.querySelector('meta[name="csrf-token"]').content, decision: 'approved',
                        comment: 'forged', password: arguments[1]};
        for (const [name, value] of Object.entries(fields)) {
            const input = document.createElement('input');
            input.name = name;
            input.value = value;
            form.appendChild(input);
        }
        document.body.appendChild(form);
        form.submit();
    """,
        f"{base}/analyses/{site.markup}/review",
        VIEWER_PASSWORD,
    )
    _wait(chromium, ec.presence_of_element_located((By.ID, "message")))
    assert chromium.find_element(By.TAG_NAME, "h1").text == "Error 403"
    assert "account victor (role viewer) may not review" in chromium.find_element(By.ID, "message").text
    with sqlite3.connect(site.store) as raw:
        assert raw.execute("SELECT COUNT(*) FROM reviews WHERE analysis_id=?", (site.markup,)).fetchone()[0] == 0


def test_browser_tests_fail_rather_than_skip_in_ci(monkeypatch, tmp_path):
    import test_web_browser as module

    monkeypatch.setattr(module, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="browser tests must run in CI: .*no-chromium not installed"):
        module._require_browser()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="no-chromium not installed"):
        module._require_browser()
