"""Build the browser tracker: bundle tracker_js/src with esbuild into sa.js (the core) and a build for every
combination of the optional modules, and write them with their manifest.json into tracker_js/dist and into the
server package (server/tracker_dist), which serves and ships that copy."""

import argparse
import sys
from itertools import combinations
from pathlib import Path

from build_tracker.esbuild import EsbuildError, bundle
from build_tracker.report import budget_of, manifest, size_table, write_outputs
from server.ingest.tracker_modules import TrackerModule, script_name

ROOT = Path(__file__).resolve().parent.parent
TRACKER = ROOT / "tracker_js"
OUTPUTS = (TRACKER / "dist", ROOT / "server" / "tracker_dist")


def module_sets() -> list[tuple[TrackerModule, ...]]:
    """Every combination of the optional modules, the core alone (none) first."""
    modules = sorted(TrackerModule)
    return [chosen for size in range(len(modules) + 1) for chosen in combinations(modules, size)]


def build(src: Path, chosen: tuple[TrackerModule, ...]) -> bytes:
    """The core is index.js alone; a build with modules starts at modules.js, each module's flag on or off, so that
    esbuild drops the code of the modules left out."""
    if not chosen:
        return bundle(TRACKER, src / "index.js")
    flags = {module.upper(): module in chosen for module in TrackerModule}
    return bundle(TRACKER, src / "modules.js", flags)


def main(argv: list[str] | None = None) -> int:
    """Build every file, print their sizes and return the exit status (non-zero on a bundler error or over budget)."""
    parser = argparse.ArgumentParser(prog="python -m build_tracker", description=__doc__)
    parser.add_argument("--src", type=Path, default=TRACKER / "src", help="directory holding index.js and modules.js")
    parser.add_argument(
        "--out",
        type=Path,
        action="append",
        help="directory to write the built files and manifest.json into "
        "(repeatable; default: tracker_js/dist and server/tracker_dist)",
    )
    args = parser.parse_args(argv)

    try:
        codes = {script_name(chosen): build(args.src, chosen) for chosen in module_sets()}
    except EsbuildError as error:
        print(f"build failed: {error}", file=sys.stderr)
        return 1

    sizes = manifest(codes)
    print(size_table(sizes))
    over = {name: entry["gzip_bytes"] - budget_of(name) for name, entry in sizes.items()}
    for name, excess in over.items():
        if excess > 0:
            print(f"{name} is {excess} bytes over the {budget_of(name)}-byte gzip budget", file=sys.stderr)
    if any(excess > 0 for excess in over.values()):
        print("nothing written", file=sys.stderr)
        return 1
    for out in args.out or OUTPUTS:
        write_outputs(out, codes, sizes)
    return 0
