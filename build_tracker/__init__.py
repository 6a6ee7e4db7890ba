"""Build the browser tracker: bundle tracker_js/src into dist/sa.js with esbuild and write dist/manifest.json."""

import argparse
import sys
from pathlib import Path

from build_tracker.esbuild import EsbuildError, bundle
from build_tracker.report import BUDGET, manifest, size_table, write_outputs

TRACKER = Path(__file__).resolve().parent.parent / "tracker_js"


def main(argv: list[str] | None = None) -> int:
    """Build sa.js, print its sizes and return the exit status (non-zero on a bundler error or over budget)."""
    parser = argparse.ArgumentParser(prog="python -m build_tracker", description=__doc__)
    parser.add_argument("--src", type=Path, default=TRACKER / "src", help="directory holding index.js")
    parser.add_argument("--out", type=Path, default=TRACKER / "dist", help="directory to write sa.js and manifest.json")
    args = parser.parse_args(argv)

    try:
        code = bundle(TRACKER, args.src / "index.js")
    except EsbuildError as error:
        print(f"build failed: {error}", file=sys.stderr)
        return 1

    sizes = manifest(code)
    print(size_table(sizes))
    over = sizes["sa.js"]["gzip_bytes"] - BUDGET
    if over > 0:
        print(f"sa.js is {over} bytes over the {BUDGET}-byte gzip budget; nothing written", file=sys.stderr)
        return 1
    write_outputs(args.out, code, sizes)
    return 0
