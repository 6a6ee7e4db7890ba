"""Build the browser tracker: bundle tracker_js/src into sa.js with esbuild and write it with its manifest.json
into tracker_js/dist and into the server package (server/tracker_dist), which serves and ships that copy."""

import argparse
import sys
from pathlib import Path

from build_tracker.esbuild import EsbuildError, bundle
from build_tracker.report import BUDGET, manifest, size_table, write_outputs

ROOT = Path(__file__).resolve().parent.parent
TRACKER = ROOT / "tracker_js"
OUTPUTS = (TRACKER / "dist", ROOT / "server" / "tracker_dist")


def main(argv: list[str] | None = None) -> int:
    """Build sa.js, print its sizes and return the exit status (non-zero on a bundler error or over budget)."""
    parser = argparse.ArgumentParser(prog="python -m build_tracker", description=__doc__)
    parser.add_argument("--src", type=Path, default=TRACKER / "src", help="directory holding index.js")
    parser.add_argument(
        "--out",
        type=Path,
        action="append",
        help="directory to write sa.js and manifest.json into "
        "(repeatable; default: tracker_js/dist and server/tracker_dist)",
    )
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
    for out in args.out or OUTPUTS:
        write_outputs(out, code, sizes)
    return 0
