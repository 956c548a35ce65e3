"""Dashboard benchmark: pages and API of `specqc serve` over a store with many analyses.

    python benchmarks/serve.py [--analyses 10000] [--repeat 15] [--store PATH]

Builds (or reuses, with --store) a results store holding N analyses: real
reports of the shipped LC-MS runs, recorded again and again under new sample
and batch names (20 samples a batch), with a review on every tenth. Then starts
the real server (uvicorn) on a free loopback port, logs in, and times each page
and API call over HTTP: median and 95th percentile of --repeat requests, and
the ratio of the median to the target of 300 ms a page.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = [
    "dz-alkylation-clean",
    "dz-alkylation-overalkylation",
    "dz-deprotection-boc-left",
    "dz-cyclization-clean",
    "dz-cyclization-oligomers",
    "dz-salt-clean",
    "dz-salt-lowpurity",
    "dz-cyclization-piperazine",
]
TARGET_MS = 300.0
NAME, PASSWORD = "bench", "bench-password-1"


def build_store(path: Path, count: int) -> float:
    from specqc.pipeline import analyze
    from specqc.records import reviews
    from specqc.records.store import Actor, Store
    from specqc.report.document import build_report

    started = time.perf_counter()
    reports = [
        build_report(analyze([ROOT / "samples" / "lcms" / f"{name}.mzML"], "diazepan-2-one")) for name in SAMPLES
    ]
    actor = Actor("bench", "bench-pc", "watch")
    with Store(path) as store:
        store.connection.execute("PRAGMA synchronous=OFF")  # building the fixture only; timed pages read
        for index in range(count):
            report = json.loads(json.dumps(reports[index % len(reports)]))
            report["sample"]["sample"] = f"S-{index:05d}"
            report["sample"]["batch"] = f"B-{index // 20:04d}"
            store.record(report, actor=actor)
        reviews.add_user(store, NAME, "reviewer", PASSWORD, actor)
        rows, _ = store.analysis_summaries(limit=count)
        for row in rows[::10]:
            stored = store.analysis(row["id"])
            store.add_review(
                row["id"],
                reviewer=NAME,
                role="reviewer",
                decision="approved",
                meaning=reviews.MEANINGS["approved"],
                comment="",
                report_sha256=stored["report_sha256"],
                client=None,
                actor=actor,
            )
    return time.perf_counter() - started


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--analyses", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--store", type=Path, help="Reuse (or build once into) this store file.")
    options = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="specqc-serve-bench-"))
    store_path = options.store or folder / "records.sqlite"
    if not store_path.exists():
        seconds = build_store(store_path, options.analyses)
        print(f"store: {options.analyses} analyses recorded in {seconds:.0f} s ({store_path})")
    from specqc.records.store import Store

    with Store(store_path) as store:
        total = store.count_analyses()
        sample_id = store.analysis_summaries(limit=1, offset=total // 2)[0][0]["id"]
        batch = store.analysis(sample_id)["batch"]
    print(f"store: {total} analyses, {store_path.stat().st_size / 2**20:.0f} MB")

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "specqc.cli", "serve", "--store", str(store_path), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("specqc serve did not start") from None
                time.sleep(0.2)
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        login_page = opener.open(base + "/login").read().decode()
        csrf = re.search(r'name="csrf" value="([^"]+)"', login_page).group(1)
        opener.open(
            base + "/login",
            urllib.parse.urlencode({"csrf": csrf, "name": NAME, "password": PASSWORD, "next": "/"}).encode(),
        ).read()
        pages = {
            "home": "/",
            "home, page 100": "/?page=100",
            "home, search": "/?q=S-0999",
            "home, filtered": "/?verdict=fail&stage=cyclization",
            "batch": "/batch?" + urllib.parse.urlencode({"name": batch}),
            "analysis": f"/analyses/{sample_id}",
            "trends (species)": "/trends?species=dialkylated",
            "watch ledger": "/watch",
            "API list": "/api/analyses",
            "API list, offset 9000": "/api/analyses?offset=9000",
            "API one analysis": f"/api/analyses/{sample_id}",
        }
        print(f"{'page':24s} {'median ms':>10s} {'p95 ms':>8s} {'bytes':>9s} {'median/target':>14s}")
        worst = 0.0
        for label, path in pages.items():
            times, size = [], 0
            for _ in range(options.repeat):
                started = time.perf_counter()
                with opener.open(base + path) as response:
                    body = response.read()
                    if response.status != 200 or response.url.startswith(base + "/login"):
                        raise SystemExit(f"{path}: status {response.status} at {response.url}")
                times.append((time.perf_counter() - started) * 1000)
                size = len(body)
            times.sort()
            median = statistics.median(times)
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            worst = max(worst, median)
            print(f"{label:24s} {median:10.1f} {p95:8.1f} {size:9d} {median / TARGET_MS:14.2f}")
        print(f"slowest median {worst:.1f} ms = {worst / TARGET_MS:.2f} x the {TARGET_MS:.0f} ms target")
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
