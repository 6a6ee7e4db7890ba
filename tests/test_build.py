"""Tests for `python -m build_tracker`: the real esbuild build, its manifest, size budget and error reporting."""

import base64
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "tracker_js" / "src"
BUDGET = 2048
MODULES_BUDGET = 2694


def build(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the build the way a developer does, from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "build_tracker", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the real sources once into a temporary output directory."""
    out = tmp_path_factory.mktemp("dist")
    result = build("--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sa.js" in result.stdout and "2048" in result.stdout
    return out


def test_manifest_matches_built_file(built: Path) -> None:
    code = (built / "sa.js").read_bytes()
    entry = json.loads((built / "manifest.json").read_text())["sa.js"]
    assert entry["bytes"] == len(code)
    assert entry["gzip_bytes"] == len(gzip.compress(code, compresslevel=9, mtime=0))
    assert entry["sha384"] == "sha384-" + base64.b64encode(hashlib.sha384(code).digest()).decode()


def test_gzipped_size_within_budget(built: Path) -> None:
    code = (built / "sa.js").read_bytes()
    assert len(gzip.compress(code, compresslevel=9, mtime=0)) <= BUDGET


def test_output_is_a_single_iife(built: Path) -> None:
    code = (built / "sa.js").read_text().strip()
    assert code.startswith("(()=>{") and code.endswith("})();")
    assert not re.search(r"\b(import|export)\b", code)


def test_build_is_deterministic(built: Path, tmp_path: Path) -> None:
    assert build("--out", str(tmp_path)).returncode == 0
    assert (tmp_path / "manifest.json").read_text() == (built / "manifest.json").read_text()


def test_syntax_error_fails_with_file_and_line(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    shutil.copytree(SRC, src)
    lines = (src / "queue.js").read_text().splitlines()
    lines.insert(4, "const broken = (;")  # becomes line 5
    (src / "queue.js").write_text("\n".join(lines) + "\n")

    result = build("--src", str(src), "--out", str(out))

    assert result.returncode != 0
    assert "queue.js:5:" in result.stdout + result.stderr
    assert not (out / "sa.js").exists()


def test_over_budget_fails_saying_by_how_much(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    shutil.copytree(SRC, src)
    with (src / "index.js").open("a") as index:
        index.write(f"console.log('{os.urandom(3000).hex()}')\n")  # random hex does not compress below ~3 KB

    result = build("--src", str(src), "--out", str(out))

    assert result.returncode != 0
    assert re.search(r"\d+ bytes over", result.stderr)
    assert not (out / "sa.js").exists()


MODULES = ("downloads", "forms", "outbound", "tagged")
EVENTS = {
    "downloads": "file_downloaded",
    "forms": "form_submitted",
    "outbound": "outbound_link_clicked",
    "tagged": "data-sib-event",
}


def test_every_combination_of_modules_is_built_with_only_its_modules(built: Path) -> None:
    entries = json.loads((built / "manifest.json").read_text())
    combinations = [[m for bit, m in enumerate(MODULES) if n >> bit & 1] for n in range(2 ** len(MODULES))]
    names = {".".join(["sa", *chosen, "js"]): chosen for chosen in combinations}
    assert set(entries) == set(names) and len(names) == 16
    for name, chosen in names.items():
        code = (built / name).read_text()
        assert {module for module in MODULES if EVENTS[module] in code} == set(chosen), name
        assert entries[name]["bytes"] == len(code.encode())


def test_module_builds_are_within_their_budget_and_the_core_pays_nothing_for_them(built: Path) -> None:
    entries = json.loads((built / "manifest.json").read_text())
    assert max(entry["gzip_bytes"] for entry in entries.values()) <= MODULES_BUDGET
    core = (built / "sa.js").read_text()
    assert "modules" not in core and "closest" not in core  # no hook, no module code


def test_a_module_build_over_its_budget_fails_naming_it(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    shutil.copytree(SRC, src)
    with (src / "modules.js").open("a") as modules:
        modules.write(f"TAGGED && console.log('{os.urandom(400).hex()}')\n")  # ~800 B that do not compress

    result = build("--src", str(src), "--out", str(out))

    assert result.returncode != 0
    assert re.search(r"sa\.tagged\.js is \d+ bytes over the 2694-byte gzip budget", result.stderr)
    assert "sa.forms.js is" not in result.stderr and "sa.js is" not in result.stderr
    assert not (out / "sa.js").exists()
