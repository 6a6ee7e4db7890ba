"""Run the esbuild binary from tracker_js/node_modules (installing it with `npm ci` when missing)."""

import subprocess
from pathlib import Path

# Syntax the browsers of the last two years (and then some) run natively: Chrome/Edge 120,
# Firefox 121 and Safari 17 all shipped in late 2023, so nothing in the tracker is down-levelled.
TARGET = "chrome120,edge120,firefox121,safari17"


class EsbuildError(Exception):
    """esbuild failed; its own message (with file:line) has already gone to stderr."""


def esbuild_binary(tracker: Path) -> Path:
    """Return the pinned esbuild binary, running `npm ci` first if node_modules lacks it."""
    binary = tracker / "node_modules" / ".bin" / "esbuild"
    if not binary.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=tracker, check=True)
    return binary


def bundle(tracker: Path, entry: Path, flags: dict[str, bool] | None = None) -> bytes:
    """Bundle and minify entry into one IIFE and return the code; each flag is a global the code reads as true or
    false, which esbuild writes in place, dropping the code it turns off. esbuild's errors go straight to stderr."""
    command = [
        str(esbuild_binary(tracker)),
        str(entry),
        "--bundle",
        "--minify",
        "--format=iife",
        f"--target={TARGET}",
        "--log-level=warning",
        *(f"--define:{name}={str(on).lower()}" for name, on in (flags or {}).items()),
    ]
    result = subprocess.run(command, stdout=subprocess.PIPE)
    if result.returncode != 0:
        raise EsbuildError(f"esbuild exited with status {result.returncode}")
    return result.stdout
