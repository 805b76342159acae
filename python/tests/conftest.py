"""Shared helpers: the repository, the CLI binary the package is checked against, the
real pairs. Run from the repository root (``bash scripts/test.sh`` does), so that the
CLI and the package find the same backbone (``models/``, ``.deps/onnxruntime/``)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

REPO = Path(__file__).resolve().parents[2]

#: The fixture pairs (tests/fixtures/NAME-a.png, NAME-b.png) and the example.
FIXTURES = sorted(p.name[: -len("-a.png")] for p in (REPO / "tests/fixtures").glob("*-a.png"))

#: Real pairs from eval/realpairs.json, chosen for variety: 1 px change, anti-aliasing,
#: alpha, photos, a JPEG, one red pixel, a semantic change in a render, a PCB scan.
REAL = [
    "looks-same-1px",
    "looks-same-antialiasing",
    "odiff-extreme-alpha",
    "pyimagesearch-01",
    "reg-cli-sample0",
    "resemble-people",
    "playwright-trivial-single-red-pixel",
    "clevr-000000-semantic",
    "deeppcb-13000198",
]


def cli_binary() -> Path:
    """``$SPOTDIFF_BIN``, else the debug binary ``cargo test`` builds, else release."""
    env = os.environ.get("SPOTDIFF_BIN")
    if env:
        return Path(env)
    for p in (REPO / "target/debug/spotdiff", REPO / "target/release/spotdiff"):
        if p.is_file():
            return p
    pytest.fail("no spotdiff binary: build it (cargo build) or set SPOTDIFF_BIN")


def cli(*args: str, env: Dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(cli_binary()), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def cli_json(a: str, b: str, *flags: str, env: Dict[str, str] | None = None) -> Dict[str, Any]:
    """``spotdiff compare A B --json FLAGS``, without the ``pictures`` key."""
    r = cli("compare", a, b, "--json", *flags, env=env)
    assert r.returncode in (0, 1), r.stderr
    report = json.loads(r.stdout)
    report.pop("pictures", None)
    return report


def cli_error(*args: str) -> str:
    """The one-line error of a CLI run that must fail, without ``spotdiff: error: ``."""
    r = cli(*args)
    assert r.returncode == 2, (r.returncode, r.stdout)
    line = r.stderr.strip()
    assert "\n" not in line, line
    prefix = "spotdiff: error: "
    assert line.startswith(prefix), line
    return line[len(prefix) :]


def realpairs_dir() -> Path:
    d = Path(os.environ.get("SPOTDIFF_REALPAIRS") or REPO.parent / "shared/realpairs")
    if not (d / "SOURCES.md").is_file():
        pytest.fail(f"real pairs not found at {d} (set SPOTDIFF_REALPAIRS)")
    return d


def real_pairs() -> List[Tuple[str, str, str]]:
    """``(name, a, b)`` of the REAL pairs, paths under the real pairs folder."""
    manifest = json.loads((REPO / "eval/realpairs.json").read_text())
    root = realpairs_dir()
    by_name = {p["name"]: p for p in manifest["pairs"]}
    return [(n, str(root / by_name[n]["a"]), str(root / by_name[n]["b"])) for n in REAL]


def fixture_pairs() -> List[Tuple[str, str, str]]:
    out = [
        (n, str(REPO / f"tests/fixtures/{n}-a.png"), str(REPO / f"tests/fixtures/{n}-b.png"))
        for n in FIXTURES
    ]
    out.append(("example", str(REPO / "examples/before.png"), str(REPO / "examples/after.png")))
    return out


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
