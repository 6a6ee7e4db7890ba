"""Measure the built tracker (bytes, deterministic gzip size, SRI hash), print the size table and write dist/."""

import base64
import gzip
import hashlib
import json
import os
from pathlib import Path
from typing import TypedDict

BUDGET = 2048  # gzipped bytes, the hard limit: a bigger tracker fails the build
AIM = 1600  # gzipped bytes we aim for


class FileSizes(TypedDict):
    """One built file's entry in manifest.json."""

    bytes: int
    gzip_bytes: int
    sha384: str


Sizes = dict[str, FileSizes]


def gzip_size(code: bytes) -> int:
    """Size of code compressed with gzip level 9 and mtime 0, so the number is reproducible."""
    return len(gzip.compress(code, compresslevel=9, mtime=0))


def manifest(code: bytes) -> Sizes:
    """The manifest entry for sa.js: bytes, gzip_bytes and a subresource-integrity sha384."""
    digest = base64.b64encode(hashlib.sha384(code).digest()).decode()
    return {"sa.js": {"bytes": len(code), "gzip_bytes": gzip_size(code), "sha384": f"sha384-{digest}"}}


def size_table(sizes: Sizes) -> str:
    """A small table: file, bytes, gzip bytes, budget and aim."""
    rows = [("file", "bytes", "gzip", "budget", "aim")]
    rows += [(name, str(s["bytes"]), str(s["gzip_bytes"]), str(BUDGET), str(AIM)) for name, s in sizes.items()]
    return "\n".join("  ".join(cell.ljust(8) for cell in row).rstrip() for row in rows)


def write_outputs(out: Path, code: bytes, sizes: Sizes) -> None:
    """Write sa.js and manifest.json into out, each replaced atomically so a running server never serves half a file."""
    out.mkdir(parents=True, exist_ok=True)
    for name, data in (("sa.js", code), ("manifest.json", (json.dumps(sizes, indent=2) + "\n").encode())):
        partial = out / f".{name}.partial"
        partial.write_bytes(data)
        os.replace(partial, out / name)
