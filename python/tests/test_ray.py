"""spotdiff.ray on a local Ray cluster (a head node and one worker node on loopback,
one CPU each, small object stores), against ``spotdiff batch``: 200 pairs made from the
fixtures give the same verdicts and boxes per pair, and bad pairs are error rows, not
a failed job. The cluster is stopped by the fixture, also when a test fails or runs
out of time."""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterator, List

import numpy as np
import pytest
from PIL import Image

from conftest import REPO, cli, fixture_pairs

# Loopback only: Ray otherwise advertises this machine's outward address, also for a
# cluster given as 127.0.0.1 (its get_node_ip_address, read when ray is imported).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import ray  # noqa: E402
import ray.data  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

import spotdiff.ray as sray  # noqa: E402

#: Seconds the whole module may take before the cluster is torn down and it fails.
TIME_LIMIT = int(os.environ.get("SPOTDIFF_RAY_TEST_TIMEOUT", "900"))
OBJECT_STORE = 80 * 1024 * 1024


class TimeLimit(Exception):
    pass


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    def expire(signum: int, frame: Any) -> None:
        raise TimeLimit(f"the Ray tests ran past {TIME_LIMIT} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(TIME_LIMIT)
    # A short temporary folder: Ray's socket paths must stay under 108 bytes.
    temp = tempfile.mkdtemp(prefix="sdray", dir="/tmp")
    saved = {"RAY_TMPDIR": os.environ.get("RAY_TMPDIR")}
    os.environ["RAY_TMPDIR"] = temp
    c = None
    try:
        # Every node on loopback: nothing leaves this machine.
        c = Cluster(
            initialize_head=True,
            head_node_args={
                "num_cpus": 1,
                "object_store_memory": OBJECT_STORE,
                "include_dashboard": False,
                "node_ip_address": "127.0.0.1",
            },
        )
        c.add_node(num_cpus=1, object_store_memory=OBJECT_STORE, node_ip_address="127.0.0.1")
        ray.init(address=c.address, include_dashboard=False, log_to_driver=False)
        c.wait_for_nodes()
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        yield c
    finally:
        signal.alarm(0)
        try:
            ray.shutdown()
        finally:
            if c is not None:
                c.shutdown()
            signal.signal(signal.SIGALRM, old)
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            shutil.rmtree(temp, ignore_errors=True)


def make_pairs(folder: Path, count: int = 200) -> List[Dict[str, str]]:
    """``count`` pairs from the fixtures: each fixture pair cropped at several places
    and sizes (A and B the same crop), plus a missing file and a corrupt one."""
    sources = [(n, Image.open(a).convert("RGBA"), Image.open(b).convert("RGBA")) for n, a, b in fixture_pairs()]
    pairs: List[Dict[str, str]] = []
    corrupt = folder / "corrupt.png"
    corrupt.write_bytes((REPO / "examples/after.png").read_bytes()[:2000])
    pairs.append({"name": "bad-corrupt", "a": str(REPO / "examples/before.png"), "b": str(corrupt)})
    pairs.append({"name": "bad-missing", "a": str(folder / "nowhere.png"), "b": str(corrupt)})
    rng = np.random.default_rng(14)
    i = 0
    while len(pairs) < count:
        name, a, b = sources[i % len(sources)]
        w, h = a.size
        cw, ch = int(rng.integers(w // 2, w + 1)), int(rng.integers(h // 2, h + 1))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        box = (x, y, x + cw, y + ch)
        pa, pb = folder / f"{name}-{i:03d}-a.png", folder / f"{name}-{i:03d}-b.png"
        a.crop(box).save(pa, compress_level=1)
        b.crop(box).save(pb, compress_level=1)
        pairs.append({"name": f"{name}-{i:03d}", "a": str(pa), "b": str(pb)})
        i += 1
    return pairs


def normalised(report: Dict[str, Any]) -> Dict[str, Any]:
    """The report with every float as the f32 it was computed as: ``spotdiff batch``
    prints f32 fields in their shortest form, ``compare --json`` (and the package)
    widened to f64."""

    def f32(v: Any) -> Any:
        if isinstance(v, float):
            return float(np.float32(v))
        if isinstance(v, dict):
            return {k: f32(x) for k, x in v.items()}
        if isinstance(v, list):
            return [f32(x) for x in v]
        return v

    return f32(report)


@pytest.fixture(scope="module")
def pairs_and_cli(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    folder = tmp_path_factory.mktemp("raypairs")
    pairs = make_pairs(folder)
    manifest = folder / "pairs.jsonl"
    manifest.write_text("".join(json.dumps(p) + "\n" for p in pairs))
    r = cli("batch", "--manifest", str(manifest))
    assert r.returncode == 2, r.stderr  # the two bad pairs
    records = {}
    for line in r.stdout.splitlines():
        rec = json.loads(line)
        records[rec["name"]] = rec
    assert len(records) == len(pairs) == 200
    return {"folder": folder, "manifest": manifest, "pairs": pairs, "cli": records}


def check_against_cli(rows: List[Dict[str, Any]], cli_records: Dict[str, Any]) -> None:
    assert sorted(r["name"] for r in rows) == sorted(cli_records)
    for row in rows:
        want = cli_records[row["name"]]
        assert row["a"] == want["a"] and row["b"] == want["b"]
        if "error" in want:
            assert row["verdict"] is None and row["report"] is None
            assert row["error"] == want["error"], row["name"]
            continue
        assert row["error"] is None, (row["name"], row["error"])
        report = json.loads(row["report"])
        assert row["verdict"] == want["report"]["verdict"] == report["verdict"]
        assert row["boxes"] == len(want["report"]["boxes"])
        assert normalised(report) == normalised(want["report"]), row["name"]


def test_200_pairs_on_two_workers_equal_the_cli_batch(cluster: Cluster, pairs_and_cli: Dict[str, Any]) -> None:
    out = pairs_and_cli["folder"] / "out.parquet"
    summary = sray.run(str(pairs_and_cli["manifest"]), str(out), workers=2, batch_size=10)
    cli_records = pairs_and_cli["cli"]
    assert summary["pairs"] == 200
    assert summary["failed"] == 2
    assert summary["different"] == sum(
        1 for r in cli_records.values() if r.get("report", {}).get("verdict") == "different"
    )
    assert any(n.endswith(".parquet") for n in os.listdir(out))
    check_against_cli(sray.read_results(str(out)), cli_records)


def test_parquet_manifest_and_jsonl_output(cluster: Cluster, pairs_and_cli: Dict[str, Any]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # A Parquet manifest with relative paths (joined to its folder), read by Ray.
    folder: Path = pairs_and_cli["folder"]
    some = [p for p in pairs_and_cli["pairs"] if not p["name"].startswith("bad")][:24]
    table = pa.table(
        {
            "name": [p["name"] for p in some],
            "a": [os.path.relpath(p["a"], folder) for p in some],
            "b": [os.path.relpath(p["b"], folder) for p in some],
        }
    )
    manifest = folder / "some.parquet"
    pq.write_table(table, manifest)
    out = folder / "some-out.jsonl"
    summary = sray.run(str(manifest), str(out), workers=1, method="pixel", model="none")
    assert summary["pairs"] == 24 and summary["failed"] == 0
    rows = sray.read_results(str(out))
    want = {}
    for p in some:
        r = cli("compare", p["a"], p["b"], "--json", "--method", "pixel", "--model", "none")
        rep = json.loads(r.stdout)
        rep.pop("pictures")
        want[p["name"]] = rep
    by_name = {p["name"]: p for p in some}
    assert sorted(r["name"] for r in rows) == sorted(by_name)
    for row in rows:
        assert row["a"] == by_name[row["name"]]["a"]
        assert json.loads(row["report"]) == want[row["name"]]


def test_the_command_line_entry_point(cluster: Cluster, pairs_and_cli: Dict[str, Any], capsys: pytest.CaptureFixture) -> None:
    folder: Path = pairs_and_cli["folder"]
    manifest = folder / "cmd.jsonl"
    manifest.write_text(
        "".join(json.dumps(p) + "\n" for p in pairs_and_cli["pairs"][:12])
    )
    code = sray.main([str(manifest), str(folder / "cmd-out"), "--workers", "1", "--method", "pixel",
                      "--model", "none", "--format", "jsonl"])
    assert code == 2  # the first two pairs are the bad ones
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["pairs"] == 12 and summary["failed"] == 2
    assert sray.main([str(manifest), str(folder / "x"), "--method", "magic"]) == 2
    assert "unknown method" in capsys.readouterr().err
