"""The dashboard's rules through its ASGI app (Starlette's test client) and the CLI:
who may read and sign, CSRF, escaping of input strings, downloads confined to
recorded reports, error pages, reviews in the audit chain and the exports."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3

import pytest
from _dashboard import (
    MARKUP_BATCH,
    MARKUP_NAME,
    REVIEWER,
    REVIEWER_PASSWORD,
    VIEWER,
    VIEWER_PASSWORD,
    build_site,
    cli,
    copy_site,
)

PLOT = re.compile(r'<svg [^>]*class="plot"')


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return build_site(tmp_path_factory.mktemp("dashboard"))


@pytest.fixture
def own_site(site, tmp_path):
    return copy_site(site, tmp_path)


class Browser:
    """A test client with the dashboard's cookie, logging in through the form."""

    def __init__(self, store_path):
        from starlette.testclient import TestClient

        from specqc.records.store import Store
        from specqc.web.app import create_app

        self.store = Store(store_path)
        self.client = TestClient(
            create_app(self.store), base_url="http://127.0.0.1", raise_server_exceptions=False, follow_redirects=False
        )

    def csrf(self, path="/login") -> str:
        page = self.client.get(path)
        return re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)

    def login(self, name, password):
        response = self.client.post(
            "/login", data={"csrf": self.csrf(), "name": name, "password": password, "next": "/"}
        )
        return response

    def close(self):
        self.client.close()
        self.store.close()


@pytest.fixture
def browser_for():
    opened = []

    def make(store_path):
        opened.append(Browser(store_path))
        return opened[-1]

    yield make
    for item in opened:
        item.close()


def test_every_page_needs_a_login_when_the_store_has_accounts(site, browser_for):
    web = browser_for(site.store)
    for path in (
        "/",
        f"/analyses/{site.boc_left}",
        "/batch?name=B-1",
        "/trends",
        "/watch",
        f"/analyses/{site.boc_left}/files/0",
        "/batch/export?name=B-1&format=csv",
    ):
        response = web.client.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next="), path
    assert web.client.get("/api/analyses").status_code == 401
    assert web.client.get(f"/api/analyses/{site.boc_left}").status_code == 401
    wrong = web.login(REVIEWER, "not-the-password")
    assert wrong.status_code == 401 and "Unknown account or wrong password" in wrong.text
    assert web.login(REVIEWER, REVIEWER_PASSWORD).status_code == 303
    home = web.client.get("/")
    assert home.status_code == 200 and f'href="/analyses/{site.boc_left}"' in home.text
    cookie = home.request.headers.get("cookie", "")
    assert "specqc_session=" in cookie


def test_session_cookie_and_security_headers(site, browser_for):
    web = browser_for(site.store)
    first = web.client.get("/login")
    set_cookie = first.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie
    policy = first.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy  # no script runs on any page
    before = web.client.cookies.get("specqc_session")
    web.login(VIEWER, VIEWER_PASSWORD)
    assert web.client.cookies.get("specqc_session") != before  # a new session id at login
    logout = web.client.post("/logout", data={"csrf": web.csrf("/")})
    assert logout.status_code == 303
    assert web.client.get("/").status_code == 303  # logged out


def test_input_strings_are_shown_as_text_everywhere(site, browser_for):
    web = browser_for(site.store)
    web.login(VIEWER, VIEWER_PASSWORD)
    escaped_name = "dz-deprotection-&lt;img src=x onerror=alert(1)&gt;&amp;&lt;b&gt;x"
    pages = {
        "home": web.client.get("/"),
        "search": web.client.get("/", params={"q": "<img"}),
        "analysis": web.client.get(f"/analyses/{site.markup}"),
        "batch": web.client.get("/batch", params={"name": MARKUP_BATCH}),
        "trends": web.client.get("/trends", params={"species": "aminopropyl-glycinate", "stage": "deprotection"}),
    }
    for name, page in pages.items():
        assert page.status_code == 200, name
        assert "<img" not in page.text and "<b>x" not in page.text, name
    for name in ("home", "search", "analysis", "trends"):
        assert escaped_name in pages[name].text, name
    assert "B&lt;&#34;2&#34;&gt;&amp;" in pages["batch"].text
    assert 'id="count">1 analysis' in pages["search"].text
    # the plots of that report carry the name in their titles: rebuilt, still text
    assert len(PLOT.findall(pages["analysis"].text)) >= 2
    api = web.client.get(f"/api/analyses/{site.markup}").json()
    assert api["sample"] == MARKUP_NAME and api["batch"] == MARKUP_BATCH  # JSON carries the real strings


def test_analysis_page_shows_the_full_report(site, browser_for):
    web = browser_for(site.store)
    web.login(VIEWER, VIEWER_PASSWORD)
    page = web.client.get(f"/analyses/{site.boc_left}").text
    assert "Boc group still on: deprotection incomplete" in page and "What to change" in page
    assert "no-protected-precursor" in page and "ethyl N-[3-(Boc-amino)propyl]glycinate" in page
    assert len(PLOT.findall(page)) == 3  # TIC and two EICs, as in the recorded HTML report
    assert "TIC (positive)" in page
    assert "Your account (viewer) cannot sign reviews." in page and 'id="review-form"' not in page
    from specqc.provenance import sha256_of

    assert sha256_of(site.boc_left_html) in page or "SHA-256" in page


def test_batch_page_downloads_and_api(site, browser_for):
    web = browser_for(site.store)
    web.login(VIEWER, VIEWER_PASSWORD)
    batch = web.client.get("/batch", params={"name": "B-1"}).text
    exported = web.client.get("/batch/export", params={"name": "B-1", "format": "csv"})
    assert exported.headers["content-disposition"] == 'attachment; filename="B-1.csv"'
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [r["record_id"] for r in rows] == [site.boc_left]
    # the page shows the recorded product amount, as the export gives it
    product_pct = float(rows[0]["product_ms_area_pct"])
    assert "deprotection" in batch and "incomplete-deprotection" in batch and f"{product_pct:.2f} % MS area" in batch
    workbook = web.client.get("/batch/export", params={"name": "B-1", "format": "xlsx"})
    assert workbook.content[:2] == b"PK"
    listing = web.client.get("/api/analyses").json()
    assert listing["total"] == 2 and {a["id"] for a in listing["analyses"]} == {site.boc_left, site.markup}
    assert {"id", "sample", "batch", "stage", "verdict", "analysed_at"} <= set(listing["analyses"][0])
    failed = web.client.get("/api/analyses", params={"verdict": "fail"}).json()
    assert [a["id"] for a in failed["analyses"]] == [site.boc_left]
    one = web.client.get(f"/api/analyses/{site.boc_left}").json()
    assert one["report"]["qc"]["verdict"] == "fail" and one["reviews"] == []
    stored = web.client.get(f"/analyses/{site.boc_left}/report.json")
    assert json.loads(stored.content) == one["report"]


def test_downloads_reach_only_recorded_report_files(own_site, browser_for, tmp_path):
    web = browser_for(own_site.store)
    web.login(VIEWER, VIEWER_PASSWORD)
    recorded = web.client.get(f"/analyses/{own_site.boc_left}/files/0")
    assert recorded.status_code == 200 and recorded.content == own_site.boc_left_html.read_bytes()
    assert recorded.headers["content-security-policy"].startswith("sandbox")
    for path in (
        f"/analyses/{own_site.boc_left}/files/1",
        f"/analyses/{own_site.boc_left}/files/-1",
        "/analyses/..%2F..%2Fetc%2Fpasswd/files/0",
        f"/analyses/{own_site.boc_left}/files/..%2F..%2Fetc",
        "/analyses/%25/files/0",
        "/static/..%2F..%2Frecords%2Fstore.py",
        "/static/../app.py",
    ):
        response = web.client.get(path)
        assert response.status_code == 404, path
        assert "Traceback" not in response.text and "def " not in response.text
    # a recorded file changed on disk is neither served nor drawn
    copy = tmp_path / "changed.html"
    copy.write_bytes(own_site.boc_left_html.read_bytes())
    original = own_site.boc_left_html.read_bytes()
    try:
        own_site.boc_left_html.write_bytes(original.replace(b"TIC (", b"TlC ("))
        assert web.client.get(f"/analyses/{own_site.boc_left}/files/0").status_code == 409
        page = web.client.get(f"/analyses/{own_site.boc_left}").text
        assert not PLOT.findall(page) and "changed since it was recorded" in page
    finally:
        own_site.boc_left_html.write_bytes(original)


def test_review_needs_a_reviewer_the_password_and_the_csrf_token(own_site, browser_for):
    target = f"/analyses/{own_site.boc_left}/review"
    api = f"/api/analyses/{own_site.boc_left}/review"
    anonymous = browser_for(own_site.store)
    assert anonymous.client.post(api, json={"decision": "approved", "password": REVIEWER_PASSWORD}).status_code == 401
    assert anonymous.client.post(target, data={"decision": "approved", "csrf": anonymous.csrf()}).status_code == 401

    viewer = browser_for(own_site.store)
    viewer.login(VIEWER, VIEWER_PASSWORD)
    token = viewer.csrf(f"/analyses/{own_site.boc_left}")
    assert (
        viewer.client.post(
            target, data={"csrf": token, "decision": "approved", "password": VIEWER_PASSWORD}
        ).status_code
        == 403
    )
    assert (
        viewer.client.post(
            api, json={"decision": "approved", "password": VIEWER_PASSWORD}, headers={"X-CSRF-Token": token}
        ).status_code
        == 403
    )
    assert viewer.client.post(api, json={"decision": "approved"}, auth=(VIEWER, VIEWER_PASSWORD)).status_code == 403

    reviewer = browser_for(own_site.store)
    reviewer.login(REVIEWER, REVIEWER_PASSWORD)
    token = reviewer.csrf(f"/analyses/{own_site.boc_left}")
    form = {"csrf": token, "decision": "approved", "comment": "ok", "password": REVIEWER_PASSWORD}
    assert reviewer.client.post(target, data={**form, "csrf": "forged"}).status_code == 403
    assert reviewer.client.post(api, json=form).status_code == 403  # no X-CSRF-Token header
    refused = reviewer.client.post(target, data={**form, "password": "wrong-password"})
    assert refused.status_code == 401 and "Signature refused" in refused.text
    no_reason = reviewer.client.post(target, data={**form, "decision": "rejected", "comment": ""})
    assert no_reason.status_code == 409 and "a rejection needs a comment" in no_reason.text
    assert reviewer.store.reviews(own_site.boc_left) == []  # nothing was signed so far

    signed = reviewer.client.post(target, data=form)
    assert signed.status_code == 303 and signed.headers["location"].endswith("#signatures")
    by_basic = reviewer.client.post(
        f"/api/analyses/{own_site.markup}/review",
        auth=(REVIEWER, REVIEWER_PASSWORD),
        json={"decision": "rejected", "comment": "name is markup"},
    )
    assert by_basic.status_code == 201 and by_basic.json()["decision"] == "rejected"
    page = reviewer.client.get(f"/analyses/{own_site.boc_left}").text
    stored = reviewer.store.analysis(own_site.boc_left)
    assert 'Signed by <span class="signer">rita</span></b> (reviewer)' in page
    assert f'<code class="signed-sha">{stored["report_sha256"]}</code>' in page
    (review,) = reviewer.store.reviews(own_site.boc_left)
    assert (review["reviewer"], review["decision"], review["comment"]) == (REVIEWER, "approved", "ok")
    assert review["meaning"].startswith("Approved:") and review["report_sha256"] == stored["report_sha256"]
    audit = reviewer.store.connection.execute("SELECT * FROM audit WHERE action='review' ORDER BY seq").fetchall()
    assert [a["analysis_id"] for a in audit] == [own_site.boc_left, own_site.markup]
    assert audit[0]["actor"].startswith("rita@") and json.loads(audit[0]["detail"])["decision"] == "approved"


def test_reviews_in_exports_and_verify_catches_a_changed_review(own_site, browser_for):
    reviewer = browser_for(own_site.store)
    reviewer.login(REVIEWER, REVIEWER_PASSWORD)
    assert (
        reviewer.client.post(
            f"/api/analyses/{own_site.boc_left}/review",
            auth=(REVIEWER, REVIEWER_PASSWORD),
            json={"decision": "rejected", "comment": "Boc left"},
        ).status_code
        == 201
    )
    exported = reviewer.client.get("/batch/export", params={"name": "B-1", "format": "csv"})
    (row,) = csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig")))
    assert (row["review_decision"], row["reviewed_by"], row["review_comment"]) == ("rejected", REVIEWER, "Boc left")
    assert row["review_report_sha256"] == row["report_sha256"]
    document = reviewer.client.get("/batch/export", params={"name": "B-1", "format": "json"}).json()
    (record,) = document["records"]
    assert record["reviews"][0]["meaning"].startswith("Rejected:")
    reviewer.close()

    verified = cli("records", "--store", own_site.store, "verify")
    assert verified.returncode == 0 and "OK" in verified.stdout, verified.stdout
    raw = sqlite3.connect(own_site.store)
    raw.execute("DROP TRIGGER reviews_no_update")
    raw.execute(
        "UPDATE reviews SET decision='approved', meaning='Approved: forged' WHERE analysis_id=?", (own_site.boc_left,)
    )
    raw.commit()
    raw.close()
    tampered = cli("records", "--store", own_site.store, "verify")
    assert tampered.returncode == 4
    assert "reviews row seq=1, reviewer='rita': changed behind the store's back" in tampered.stdout


def test_verify_catches_a_review_or_account_added_behind_the_stores_back(own_site):
    from specqc.records import reviews

    raw = sqlite3.connect(own_site.store)
    raw.execute(
        "INSERT INTO users (name, role, password_hash, active, at, by) VALUES ('mallory', 'reviewer', ?, 1,"
        " '2026-01-01T00:00:00+00:00', 'x')",
        (reviews.hash_password("mallory-pass-1"),),
    )
    raw.execute(
        "INSERT INTO reviews (analysis_id, reviewer, role, decision, meaning, comment, report_sha256, "
        "signed_at) VALUES (?, 'mallory', 'reviewer', 'approved', 'm', '', ?, '2026-01-01T00:00:00+00:00')",
        (own_site.markup, "0" * 64),
    )
    raw.commit()
    raw.close()
    result = cli("records", "--store", own_site.store, "verify")
    assert result.returncode == 4
    assert "users row seq=3, name='mallory': not in the audit chain" in result.stdout
    assert "reviews row seq=1, reviewer='mallory': not in the audit chain" in result.stdout
    assert "signed report SHA-256 000000000000... is not the stored report" in result.stdout


def test_a_superseded_analysis_is_not_signed(own_site, browser_for):
    from specqc.records.store import Actor, Store

    with Store(own_site.store) as store:
        report = json.loads(store.analysis(own_site.boc_left)["report_json"])
        report["parameters"]["note"] = "re-analysed"
        newer = store.record(report, actor=Actor("tester", "pc", "cli"))
    assert newer.revision == 2
    web = browser_for(own_site.store)
    response = web.client.post(
        f"/api/analyses/{own_site.boc_left}/review", auth=(REVIEWER, REVIEWER_PASSWORD), json={"decision": "approved"}
    )
    assert response.status_code == 409 and "superseded" in response.json()["error"]
    web.login(REVIEWER, REVIEWER_PASSWORD)
    page = web.client.get(f"/analyses/{own_site.boc_left}").text
    assert "A newer revision supersedes this analysis" in page and 'id="review-form"' not in page


def test_errors_are_pages_never_tracebacks(own_site, browser_for, monkeypatch):
    web = browser_for(own_site.store)
    web.login(VIEWER, VIEWER_PASSWORD)
    missing = web.client.get("/analyses/ffffffffffffffffffffffff")
    assert missing.status_code == 404 and "<h1>Error 404</h1>" in missing.text
    bad = web.client.get("/", params={"verdict": "<maybe>"})
    assert bad.status_code == 400 and "&lt;maybe&gt;" in bad.text and "<maybe>" not in bad.text
    from specqc.web import app

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals /etc/specqc")

    monkeypatch.setattr(app, "_watch_data", broken)
    page = web.client.get("/watch")
    assert page.status_code == 500 and "internal error" in page.text
    assert "Traceback" not in page.text and "secret internals" not in page.text
    api = web.client.get("/api/analyses", params={"limit": "many"})
    assert api.status_code == 400 and api.json() == {"error": "limit and offset must be numbers"}
    from specqc.errors import StoreLockedError
    from specqc.records import reviews

    def locked(*args, **kwargs):
        raise StoreLockedError("results store is locked by another process (waited 60 s)")

    monkeypatch.setattr(reviews, "sign_review", locked)
    busy = web.client.post(
        f"/api/analyses/{own_site.boc_left}/review", auth=(REVIEWER, REVIEWER_PASSWORD), json={"decision": "approved"}
    )
    assert busy.status_code == 503 and "locked by another process" in busy.json()["error"]


def test_home_pages_and_filters_many_analyses(tmp_path, browser_for, site):
    from specqc.records.store import Actor, Store

    path = tmp_path / "many.sqlite"
    with Store(site.store) as source:
        report = json.loads(source.analysis(site.boc_left)["report_json"])
    with Store(path) as store:
        for index in range(130):
            report["sample"]["sample"] = f"S-{index:03d}"
            report["sample"]["batch"] = f"B-{index % 7}"
            report["qc"]["verdict"] = "pass" if index % 3 else "fail"
            store.record(report, actor=Actor("tester", "pc", "watch"))
    web = browser_for(path)  # no accounts: read-only, no login
    first = web.client.get("/").text
    assert 'id="count">130 analysis(es); page 1 of 3.' in first and "read-only: the store has no accounts" in first
    pages = [first] + [web.client.get("/", params={"page": page}).text for page in (2, 3)]
    shown = [re.findall(r'">(S-\d{3})</a>', page) for page in pages]
    assert [len(names) for names in shown] == [50, 50, 30]  # 50 a page, every analysis on exactly one
    assert sorted(name for names in shown for name in names) == [f"S-{index:03d}" for index in range(130)]
    stamps = [re.findall(r"<td>(\d{4}-\d\d-\d\dT[^<]+)</td>", page.split('id="analyses"')[1]) for page in pages]
    assert max(stamps[2]) <= min(stamps[0])  # newest first
    failed = web.client.get("/", params={"verdict": "fail", "batch": "B-0"}).text
    # index % 3 == 0 and index % 7 == 0: 0, 21, 42, ..., 126
    assert 'id="count">7 analysis(es) match' in failed
    api = web.client.get("/api/analyses", params={"q": "S-12", "limit": 5}).json()
    assert api["total"] == 10 and len(api["analyses"]) == 5
    review = web.client.post(
        f"/api/analyses/{api['analyses'][0]['id']}/review",
        json={"decision": "approved"},
        headers={"X-CSRF-Token": web.csrf("/")},
    )
    assert review.status_code == 401 and "none is configured" in review.json()["error"]


def test_trends_plot_a_species_across_batches(tmp_path, browser_for, site):
    from specqc.records.store import Actor, Store

    path = tmp_path / "trend.sqlite"
    with Store(site.store) as source:
        report = json.loads(source.analysis(site.boc_left)["report_json"])
    left = next(s for s in report["species"] if s["id"] == "boc-aminopropyl-glycinate")
    with Store(path) as store:
        for index, area in enumerate((27.8, 12.5, 3.1)):
            report["sample"]["batch"] = f"T-{index}"
            left["lcms"]["relative_area_pct"] = area
            store.record(report, actor=Actor("tester", "pc", "watch"))
    web = browser_for(path)
    page = web.client.get("/trends", params={"species": "boc-aminopropyl-glycinate"}).text
    assert 'id="trend-plot"' in page and "<polyline" in page
    values = re.findall(
        r'name=(T-\d)">T-\d</a></td>.*?<td class="num">(\d+\.\d\d)</td><td class="num"></td>', page, re.DOTALL
    )
    assert sorted((batch, float(value)) for batch, value in values) == [("T-0", 27.8), ("T-1", 12.5), ("T-2", 3.1)]
    checks = web.client.get("/trends", params={"check": "no-protected-precursor"}).text
    assert checks.count('class="s-fail">fail</td>') == 3


def test_watch_page_lists_what_is_not_done_per_service(tmp_path, browser_for):
    from specqc.records.store import Actor, Store

    path = tmp_path / "ledger.sqlite"
    actor = Actor("svc", "pc", "watch")
    with Store(path) as store:
        store.ledger_event("/in/a.mzML", "a" * 64, "done", holder="pc/1/aaaa", actor=actor)
        store.ledger_event(
            "/in/b.mzML",
            "b" * 64,
            "failed",
            error="b.mzML: not an mzML file",
            permanent=True,
            holder="pc/1/aaaa",
            actor=actor,
        )
        store.ledger_event(
            "/in/<c>.mzML", "c" * 64, "unassigned", error="no stage in the name", holder="pc/2/bbbb", actor=actor
        )
        store.ledger_event("/in/d.mzML", "d" * 64, "started", holder="pc/2/bbbb", actor=actor)
    web = browser_for(path)
    page = web.client.get("/watch").text
    assert "Service pc/1/aaaa" in page and "Service pc/2/bbbb" in page
    assert "b.mzML: not an mzML file" in page and "(not retried)" in page
    assert "/in/&lt;c&gt;.mzML" in page and "no stage in the name" in page
    assert ">pending</td>" in page and "/in/a.mzML" not in page  # done ones are counted, not listed


def test_users_cli(tmp_path):
    from specqc.records.store import Store

    path = tmp_path / "users.sqlite"
    Store(path).close()
    added = cli("users", "--store", path, "add", "ana", "--role", "reviewer", stdin="ana-password-1\n")
    assert added.returncode == 0 and "account ana (reviewer) added" in added.stderr
    again = cli("users", "--store", path, "add", "ana", "--role", "viewer", stdin="other-password-1\n")
    assert again.returncode == 2 and "exists already" in again.stderr and len(again.stderr.splitlines()) == 1
    short = cli("users", "--store", path, "add", "bo", "--role", "viewer", stdin="short\n")
    assert short.returncode == 2 and "password too short" in short.stderr
    odd = cli("users", "--store", path, "add", "<bo>", "--role", "viewer", stdin="long-enough-1\n")
    assert odd.returncode == 2 and "not allowed" in odd.stderr
    missing = cli("users", "--store", tmp_path / "none.sqlite", "add", "x", "--role", "viewer", stdin="password-1\n")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    with Store(path) as store:
        row = store.user("ana")
        assert row["password_hash"].startswith("$argon2id$") and "ana-password-1" not in row["password_hash"]
    assert cli("users", "--store", path, "passwd", "ana", stdin="ana-password-2\n").returncode == 0
    assert cli("users", "--store", path, "disable", "ana").returncode == 0
    listed = cli("users", "--store", path, "list")
    assert listed.stdout.split() == ["ana", "reviewer", "disabled"]
    from specqc.records import reviews

    with Store(path) as store, pytest.raises(reviews.AuthenticationError):
        reviews.authenticate(store, "ana", "ana-password-2")
    assert cli("records", "--store", path, "verify").returncode == 0


def test_serve_refuses_to_leave_loopback_without_accounts_and_tls(tmp_path):
    from specqc.records.store import Store

    path = tmp_path / "s.sqlite"
    Store(path).close()
    exposed = cli("serve", "--store", path, "--host", "0.0.0.0", "--port", "0")
    assert exposed.returncode == 2 and len(exposed.stderr.strip().splitlines()) == 1
    assert "without authentication" in exposed.stderr
    assert cli("users", "--store", path, "add", "ana", "--role", "viewer", stdin="ana-password-1\n").returncode == 0
    clear = cli("serve", "--store", path, "--host", "0.0.0.0", "--port", "0")
    assert clear.returncode == 2 and "without TLS" in clear.stderr and len(clear.stderr.strip().splitlines()) == 1
    missing = cli("serve", "--store", tmp_path / "none.sqlite")
    assert missing.returncode == 2 and "results store does not exist" in missing.stderr
    assert not (tmp_path / "none.sqlite").exists()


def test_a_schema_3_store_migrates_without_alarms(tmp_path):
    from specqc.records.store import SCHEMA_1, SCHEMA_2, SCHEMA_3, Store, _append_only_triggers

    path = tmp_path / "v3.sqlite"
    raw = sqlite3.connect(path)
    raw.executescript(SCHEMA_1 + SCHEMA_2 + SCHEMA_3 + "PRAGMA user_version=3;")
    raw.executescript(
        _append_only_triggers(
            ("analyses", "inputs", "species_results", "diagnoses", "checks", "report_files", "audit", "ledger")
        )
    )
    raw.close()
    with Store(path) as store:
        assert store.schema_version == 4 and store.restored_triggers == []
        assert store.verify() == []


def test_plot_sanitiser_keeps_drawing_and_drops_everything_else():
    from specqc.web.plots import sanitise_svg

    hostile = (
        '<svg class="plot" role="img" aria-label="t&lt;x&gt;" xmlns="http://www.w3.org/2000/svg" '
        'viewBox="0 0 10 10" onload="alert(1)"><script>alert(2)</script>'
        '<a href="javascript:alert(3)"><text x="1" y="2">link</text></a>'
        '<rect x="1" y="1" width="2" height="2" fill="url(javascript:alert(4))" style="x"/>'
        '<polyline fill="none" stroke="#123" points="1,2 3,4"><title>&lt;b&gt;</title></polyline>'
        "<foreignObject><div>html</div></foreignObject></svg>"
    )
    markup, title = sanitise_svg(hostile)
    assert title == "t<x>"
    for gone in ("onload", "script", "alert(2)", "javascript", "href", "style", "foreignObject", "<div", "<a "):
        assert gone not in markup, gone
    assert '<polyline fill="none" points="1,2 3,4" stroke="#123"><title>&lt;b&gt;</title></polyline>' in markup
    assert 'aria-label="t&lt;x&gt;"' in markup
    assert sanitise_svg('<!DOCTYPE svg [<!ENTITY a "b">]><svg class="plot"></svg>') is None
    assert sanitise_svg('<svg class="plot"><unclosed></svg>') is None


def test_nmr_analysis_shows_the_spectrum_and_assignments(tmp_path, browser_for):
    from _dashboard import record_analysis
    from conftest import SAMPLES

    from specqc.records.store import Store

    path = tmp_path / "nmr.sqlite"
    reports = tmp_path / "reports"
    reports.mkdir()
    with Store(path) as store:
        analysis_id, _ = record_analysis(store, SAMPLES / "nmr" / "dz-salt-nmr-ether", "N-1", reports, stage="salt")
    web = browser_for(path)
    page = web.client.get(f"/analyses/{analysis_id}").text
    section = page.split('id="nmr"')[1]
    assert "400.1 MHz, DMSO-d6" in section
    # the ether's triplet assigned, and the solvent judged against its ICH limit
    assert re.search(r'<td class="num">1\.088</td><td>t</td>.*?<td>diethyl ether</td></tr>', section, re.DOTALL)
    assert re.search(r"<td>diethyl ether</td>.*?above limit", section.split("Residual solvents")[1], re.DOTALL)
    titles = re.findall(r'<svg [^>]*aria-label="([^"]+)"', page)
    assert [t for t in titles if t.startswith("1H spectrum")] == [
        "1H spectrum (processed; numbers refer to the signal table)",
        "1H spectrum, 0.5–4.5 ppm",
    ]


def test_the_report_downloads_as_pdf_from_the_same_renderer_as_analyze(site, browser_for):
    import os

    from specqc.report.pdf import find_chromium

    if find_chromium() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but no Chromium to print with")
        pytest.skip("no Chromium here to print the PDF with")
    web = browser_for(site.store)
    web.login(VIEWER, VIEWER_PASSWORD)
    assert f"/analyses/{site.boc_left}/report.pdf?paper=a4" in web.client.get(f"/analyses/{site.boc_left}").text
    pdf = web.client.get(f"/analyses/{site.boc_left}/report.pdf", params={"paper": "letter"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and b"/MediaBox [0 0 612 792]" in pdf.content  # US Letter, in points
    assert web.client.get(f"/analyses/{site.boc_left}/report.pdf", params={"paper": "a5"}).status_code == 404


def test_the_dashboard_over_a_postgresql_store(site, browser_for):
    """The same pages, API and signed review over one PostgreSQL store (the site's SQLite store
    copied there with `records migrate`, accounts and audit chain included)."""
    from servers import fresh_database

    from specqc.records.store import Store

    with fresh_database() as url:
        copied = cli("records", "migrate", "--from", site.store, "--to", url)
        assert copied.returncode == 0, copied.stderr
        web = browser_for(url)
        assert web.login(REVIEWER, REVIEWER_PASSWORD).status_code == 303
        listing = web.client.get("/api/analyses").json()
        assert {a["id"] for a in listing["analyses"]} == {site.boc_left, site.markup}
        assert "incomplete-deprotection" in web.client.get("/batch", params={"name": "B-1"}).text
        signed = web.client.post(
            f"/api/analyses/{site.boc_left}/review",
            auth=(REVIEWER, REVIEWER_PASSWORD),
            json={"decision": "approved", "comment": "checked on the group server"},
        )
        assert signed.status_code == 201, signed.text
        with Store(url) as store:
            (review,) = store.reviews(site.boc_left)
            assert review["reviewer"] == REVIEWER and review["decision"] == "approved"
            assert store.verify() == []
        verified = cli("records", "--store", url, "verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        web.close()
