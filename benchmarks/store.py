"""Results-store write throughput with concurrent writers, SQLite and PostgreSQL.

    python benchmarks/store.py [--writers 4] [--analyses 250] [--postgres URL]

Each writer is its own process (as watch services on several instrument PCs
are) and records its analyses as fast as it can, one transaction each (the
analysis, its inputs, species, checks, diagnoses and an audit row). The report
is a real one (a shipped LC-MS run), made distinct per record. Printed per
engine: analyses/s and rows/s, and the check that nothing was lost or stored
twice (count per writer, distinct ids, revisions 1..N) and that the audit chain
verifies. PostgreSQL: --postgres or $SPECQC_TEST_POSTGRES_URL names a server
whose user may create databases (a fresh one is made and dropped); without one
only SQLite is measured.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "lcms" / "dz-cyclization-oligomers.mzML"


def _writer(location: str, report_text: str, writer: int, count: int, start_at: float, queue) -> None:
    from specqc.records.store import Actor, Store

    report = json.loads(report_text)
    report["sample"]["batch"] = f"W{writer}"
    actor = Actor(f"writer-{writer}", f"pc-{writer}", "watch")
    with Store(location) as store:
        while time.time() < start_at:
            time.sleep(0.001)
        began = time.perf_counter()
        new = 0
        for index in range(count):
            report["qc"]["checks"][0]["detail"] = f"analysis {index} of writer {writer}"
            new += store.record(report, actor=actor).new
        queue.put((writer, new, began, time.perf_counter()))


def rows_per_analysis(location: str) -> float:
    from specqc.records.store import Store

    with Store(location) as store:
        total = sum(
            store.connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("analyses", "inputs", "species_results", "diagnoses", "checks", "report_files", "audit")
        )
        return total / max(store.count_analyses(), 1)


def measure(location: str, report_text: str, writers: int, count: int) -> dict:
    from specqc.records.store import Store

    Store(location).close()  # schema made before the clock starts
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    start_at = time.time() + 3.0  # every writer connected and waiting
    processes = [
        context.Process(target=_writer, args=(location, report_text, w, count, start_at, queue)) for w in range(writers)
    ]
    for process in processes:
        process.start()
    results = [queue.get(timeout=1800) for _ in processes]
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise SystemExit(f"a writer failed (exit {process.exitcode})")
    seconds = max(r[3] for r in results) - min(r[2] for r in results)
    with Store(location) as store:
        per_writer = [len(store.analyses(batch=f"W{w}")) for w in range(writers)]
        ids = [r["id"] for r in store.analyses()]
        revisions_ok = all(
            sorted(r["revision"] for r in store.analyses(batch=f"W{w}")) == list(range(1, count + 1))
            for w in range(writers)
        )
        problems = store.verify()
    expected = writers * count
    return {
        "seconds": seconds,
        "analyses_per_s": expected / seconds,
        "stored": len(ids),
        "lost": expected - len(set(ids)),
        "duplicated": len(ids) - len(set(ids)),
        "all_new": sum(r[1] for r in results) == expected,
        "per_writer": per_writer,
        "revisions_ok": revisions_ok,
        "chain_ok": not problems,
        "rows_per_analysis": rows_per_analysis(location),
    }


def _database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--analyses", type=int, default=250, help="per writer")
    parser.add_argument("--postgres", default=os.environ.get("SPECQC_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    from specqc.pipeline import analyze
    from specqc.report.document import build_report, to_json

    report_text = to_json(build_report(analyze([SAMPLE], "diazepan-2-one", batch="W")))
    engines = []
    with tempfile.TemporaryDirectory() as temporary:
        engines.append(("SQLite", str(Path(temporary) / "records.sqlite"), None))
        if args.postgres:
            import psycopg

            name = f"specqc_bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(args.postgres, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            engines.append(("PostgreSQL", _database(args.postgres, name), name))
        else:
            print("PostgreSQL: skipped (no --postgres or $SPECQC_TEST_POSTGRES_URL)")
        for label, location, database in engines:
            try:
                result = measure(location, report_text, args.writers, args.analyses)
            finally:
                if database is not None:
                    with psycopg.connect(args.postgres, autocommit=True) as admin:
                        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            rows = result["analyses_per_s"] * result["rows_per_analysis"]
            print(
                f"{label:10s} {args.writers} writers x {args.analyses}: {result['analyses_per_s']:7.1f} analyses/s, "
                f"{rows:8.0f} rows/s ({result['rows_per_analysis']:.0f} rows per analysis; {result['seconds']:.1f} s); "
                f"stored {result['stored']}, lost {result['lost']}, duplicated {result['duplicated']}, "
                f"per writer {result['per_writer']}, revisions 1..N {'ok' if result['revisions_ok'] else 'WRONG'}, "
                f"audit chain {'verifies' if result['chain_ok'] else 'BROKEN'}"
            )
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
