"""The watch service pairs a sample's LC-MS run and its 1H NMR spectrum when
they land separately, and writes a batch index styled like the reports."""

from __future__ import annotations

import json
import os
import shutil
import time

from conftest import SAMPLES
from test_watch import SETTLE, options, run_once, settle


def _drop(inbox, source, name, sample, acquired):
    target = inbox / name
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copy(source, target)
    sidecar = json.dumps({"sample": sample, "stage": "salt", "batch": "B-P"})
    if target.is_dir():  # a Bruker experiment: the sidecar inside the experiment folder
        (next(target.rglob("acqus")).parent / "specqc.json").write_text(sidecar)
    else:
        (inbox / f"{name}.json").write_text(sidecar)
    for path in [target, *target.rglob("*")]:
        os.utime(path, (acquired, acquired))


def test_lcms_and_nmr_of_one_sample_get_one_combined_verdict(tmp_path):
    opts = options(tmp_path)
    inbox = opts.inboxes[0]
    now = time.time() - 5 * SETTLE
    _drop(inbox, SAMPLES / "lcms" / "dz-salt-uv-clean.mzML", "S-17-lc.mzML", "S-17", now - 600)
    settle()
    first = run_once(opts)
    assert len(first.analysed) == 1
    reports = opts.out / "B-P"
    (alone,) = [json.loads(p.read_text()) for p in reports.glob("S-17-lc*.json")]
    assert alone["qc"]["verdict"] == "inconclusive"  # identity and salt need the NMR
    # the NMR of the same sample lands ten minutes later; an NMR of another sample is left alone
    _drop(inbox, SAMPLES / "nmr" / "dz-salt-nmr-clean", "S-17-nmr", "S-17", now)
    _drop(inbox, SAMPLES / "nmr" / "dz-salt-nmr-wet", "S-18-nmr", "S-18", now)
    settle()
    second = run_once(opts)
    assert len(second.analysed) == 2
    (combined,) = [json.loads(p.read_text()) for p in reports.glob("S-17-nmr*.json")]
    assert sorted(i["technique"] for i in combined["inputs"]) == ["lcms", "nmr"]
    assert combined["qc"]["verdict"] == "pass"
    (other,) = [json.loads(p.read_text()) for p in reports.glob("S-18-nmr*.json")]
    assert [i["technique"] for i in other["inputs"]] == ["nmr"]
    index = (reports / "index.html").read_text(encoding="utf-8")
    assert '<span class="verdict v-pass">PASS</span>' in index and ".verdict{" in index
    assert "S-17-lc.mzML" in index


def test_a_pair_outside_the_window_is_not_combined(tmp_path):
    opts = options(tmp_path, pair_window_s=60.0)
    inbox = opts.inboxes[0]
    now = time.time() - 5 * SETTLE
    _drop(inbox, SAMPLES / "lcms" / "dz-salt-uv-clean.mzML", "S-20-lc.mzML", "S-20", now - 7200)
    _drop(inbox, SAMPLES / "nmr" / "dz-salt-nmr-clean", "S-20-nmr", "S-20", now)
    settle()
    result = run_once(opts)
    assert len(result.analysed) == 2
    for report in (opts.out / "B-P").glob("S-20*.json"):
        assert len(json.loads(report.read_text())["inputs"]) == 1
