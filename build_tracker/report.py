"""Measure the built tracker files (bytes, deterministic gzip size, SRI hash), print the size table and write dist/."""

import base64
import gzip
import hashlib
import json
import os
from pathlib import Path
from typing import TypedDict

CORE = "sa.js"
BUDGET = 2048  # gzipped bytes of the core, the hard limit: a bigger core fails the build
MODULES_BUDGET = 2694  # gzipped bytes of a build with modules, every module included (Plausible's npm build)
AIM = 1600  # gzipped bytes we aim for, for the core


class FileSizes(TypedDict):
    """One built file's entry in manifest.json."""

    bytes: int
    gzip_bytes: int
    sha384: str


Sizes = dict[str, FileSizes]


def gzip_size(code: bytes) -> int:
    """Size of code compressed with gzip level 9 and mtime 0, so the number is reproducible."""
    return len(gzip.compress(code, compresslevel=9, mtime=0))


def budget_of(name: str) -> int:
    """The gzip budget of a built file: the core's, or that of a build with modules."""
    return BUDGET if name == CORE else MODULES_BUDGET


def manifest(codes: dict[str, bytes]) -> Sizes:
    """The manifest entry of each built file: bytes, gzip_bytes and a subresource-integrity sha384."""
    return {
        name: {
            "bytes": len(code),
            "gzip_bytes": gzip_size(code),
            "sha384": "sha384-" + base64.b64encode(hashlib.sha384(code).digest()).decode(),
        }
        for name, code in codes.items()
    }


def size_table(sizes: Sizes) -> str:
    """A small table: file, bytes, gzip bytes, budget and (for the core) aim."""
    rows = [("file", "bytes", "gzip", "budget", "aim")]
    rows += [
        (name, str(s["bytes"]), str(s["gzip_bytes"]), str(budget_of(name)), str(AIM) if name == CORE else "")
        for name, s in sizes.items()
    ]
    width = max(len(row[0]) for row in rows) + 2
    return "\n".join((row[0].ljust(width) + "  ".join(cell.ljust(8) for cell in row[1:])).rstrip() for row in rows)


def write_outputs(out: Path, codes: dict[str, bytes], sizes: Sizes) -> None:
    """Write the built files and manifest.json into out, each replaced atomically so a running server never serves
    half a file."""
    out.mkdir(parents=True, exist_ok=True)
    files = {**codes, "manifest.json": (json.dumps(sizes, indent=2) + "\n").encode()}
    for name, data in files.items():
        partial = out / f".{name}.partial"
        partial.write_bytes(data)
        os.replace(partial, out / name)
