"""The demo shop's product pictures as PNG files, drawn from flat shapes with the standard library alone.

    .venv/bin/python -m scripts.product_images [--out demo_site/static]

PNG because the recovery email shows them: Gmail and Outlook show PNG, JPEG and GIF, not SVG. The same input
always gives the same bytes, so the committed files change only when a drawing does.
"""

from __future__ import annotations

import argparse
import struct
import zlib
from collections.abc import Callable, Sequence
from math import cos, radians, sin
from pathlib import Path

SIZE = 240  # pixels a side, as the shop's pages show them
SCALE = 3  # samples a side per pixel, averaged: smooth edges
Colour = tuple[int, int, int]
Point = tuple[float, float]


class Canvas:
    """An RGB picture drawn at SCALE times its size, then averaged down."""

    def __init__(self, background: str) -> None:
        self.side = SIZE * SCALE
        self.rows = [[rgb(background)] * self.side for _ in range(self.side)]

    def _spans(self, crossings: Callable[[float], list[float]], colour: str) -> None:
        """Fill, on each sample row, between successive pairs of the x positions where a shape's edge crosses it."""
        paint = rgb(colour)
        for y in range(self.side):
            xs = sorted(crossings((y + 0.5) / SCALE))
            row = self.rows[y]
            for left, right in zip(xs[::2], xs[1::2], strict=False):
                start, end = max(0, round(left * SCALE)), min(self.side, round(right * SCALE))
                row[start:end] = [paint] * max(0, end - start)

    def polygon(self, points: Sequence[Point], colour: str) -> None:
        edges = list(zip(points, [*points[1:], points[0]], strict=True))

        def crossings(y: float) -> list[float]:
            return [x0 + (y - y0) * (x1 - x0) / (y1 - y0) for (x0, y0), (x1, y1) in edges if (y0 <= y) != (y1 <= y)]

        self._spans(crossings, colour)

    def rect(self, x: float, y: float, width: float, height: float, colour: str) -> None:
        self.polygon([(x, y), (x + width, y), (x + width, y + height), (x, y + height)], colour)

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, colour: str) -> None:
        def crossings(y: float) -> list[float]:
            reach = 1 - ((y - cy) / ry) ** 2
            return [cx - rx * reach**0.5, cx + rx * reach**0.5] if reach > 0 else []

        self._spans(crossings, colour)

    def png(self) -> bytes:
        """The picture averaged down to SIZE a side, as PNG bytes (8-bit RGB, no filter)."""
        raw = bytearray()
        for y in range(SIZE):
            raw.append(0)  # the row's filter: none
            band = self.rows[y * SCALE : (y + 1) * SCALE]
            for x in range(SIZE):
                samples = [colour for row in band for colour in row[x * SCALE : (x + 1) * SCALE]]
                raw.extend(sum(sample[channel] for sample in samples) // len(samples) for channel in range(3))
        header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(bytes(raw), 9))
            + _chunk(b"IEND", b"")
        )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def rgb(colour: str) -> Colour:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def black_shoes() -> Canvas:
    canvas = Canvas("#eef2f0")
    canvas.ellipse(120, 176, 92, 10, "#d5ddd9")
    upper = [
        (26, 170),
        (24, 140),
        (30, 112),
        (44, 88),
        (58, 94),
        (80, 96),
        (100, 94),
        (124, 112),
        (156, 126),
        (196, 136),
    ]
    canvas.polygon([*upper, (220, 146), (226, 158), (224, 170)], "#2a2d34")
    canvas.polygon([(26, 166), (222, 166), (224, 174), (220, 178), (30, 178), (25, 172)], "#111317")
    canvas.polygon([(44, 88), (58, 94), (80, 96), (100, 94), (106, 103), (88, 107), (64, 104)], "#454a55")
    for x in (96, 110, 124):
        canvas.polygon([(x, 106), (x + 4, 104), (x + 14, 118), (x + 10, 120)], "#c9ced6")
    return canvas


def white_shirt() -> Canvas:
    canvas = Canvas("#e8eef5")
    outline = [(92, 40), (46, 60), (20, 112), (48, 126), (62, 100), (62, 210), (178, 210), (178, 100), (192, 126)]
    outline += [(220, 112), (194, 60), (148, 40), (134, 54), (120, 56), (106, 54)]
    canvas.polygon(outline, "#c7d0db")
    canvas.polygon(_shrunk(outline, 2.5), "#ffffff")
    canvas.polygon([(92, 40), (120, 70), (148, 40), (140, 40), (120, 62), (100, 40)], "#c7d0db")
    canvas.rect(118.5, 70, 3, 140, "#d7dee7")
    for y in (92, 120, 148, 176):
        canvas.ellipse(120, y, 3.5, 3.5, "#aab4c2")
    return canvas


def _shrunk(points: Sequence[Point], by: float) -> list[Point]:
    """The polygon pulled `by` pixels towards its centre: an inner fill that leaves an outline showing."""
    cx = sum(x for x, _ in points) / len(points)
    cy = sum(y for _, y in points) / len(points)
    out: list[Point] = []
    for x, y in points:
        dx, dy = cx - x, cy - y
        length = max((dx * dx + dy * dy) ** 0.5, 1)
        out.append((x + dx / length * by, y + dy / length * by))
    return out


def sun_hat() -> Canvas:
    canvas = Canvas("#f6efe1")
    canvas.ellipse(188, 54, 22, 22, "#f8dd95")
    canvas.ellipse(120, 150, 100, 32, "#e2be7a")
    canvas.ellipse(120, 146, 100, 30, "#ecd08f")
    canvas.ellipse(120, 148, 80, 22, "#dfb66c")
    canvas.ellipse(120, 148, 77, 20, "#ecd08f")
    canvas.polygon([*arc(120, 146, 50, 70, 180, 360), *arc(120, 146, 50, 6, 0, 180)], "#e5c27f")
    canvas.polygon([*arc(120, 128, 49, 6, 180, 0), *arc(120, 144, 50, 6, 0, 180)], "#2f6f5e")
    return canvas


def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, steps: int = 48) -> list[Point]:
    """Points along an ellipse from angle `start` to `end` (degrees, clockwise on screen from 3 o'clock)."""
    turns = [radians(start + (end - start) * step / steps) for step in range(steps + 1)]
    return [(cx + rx * cos(turn), cy + ry * sin(turn)) for turn in turns]


def canvas_bag() -> Canvas:
    canvas = Canvas("#efeae3")
    canvas.ellipse(120, 72, 36, 36, "#8a6a4a")
    canvas.ellipse(120, 72, 27, 27, "#efeae3")
    canvas.polygon([(53, 88), (187, 88), (197, 210), (43, 210)], "#bea57f")
    canvas.polygon([(56, 91), (184, 91), (194, 207), (46, 207)], "#d9c6a5")
    canvas.polygon([(56, 91), (184, 91), (186, 112), (54, 112)], "#cdb891")
    canvas.rect(94, 134, 52, 40, "#2f6f5e")
    canvas.rect(106, 152, 28, 4, "#eef5f2")
    canvas.rect(118, 142, 4, 24, "#eef5f2")
    for x in range(60, 180, 10):
        canvas.rect(x, 199, 5, 2, "#bea57f")
    return canvas


def striped_socks() -> Canvas:
    canvas = Canvas("#f5ecec")
    stripes = ("#d4574e", "#fbf7f2", "#f2b544", "#fbf7f2", "#2f6f5e", "#fbf7f2", "#d4574e", "#fbf7f2", "#f2b544")
    for index, colour in enumerate(stripes):
        canvas.rect(86, 30 + index * 14, 54, 14, colour)
    foot = [(86, 150), (140, 150), (144, 160), (152, 166), (178, 184), (186, 200), (182, 214), (172, 220)]
    foot += [(160, 222), (144, 216), (92, 182), (86, 172)]
    canvas.polygon(foot, "#fbf7f2")
    canvas.polygon([(150, 190), (186, 194), (184, 212), (174, 220), (160, 222), (148, 214)], "#d4574e")
    canvas.polygon([(86, 150), (100, 150), (106, 168), (104, 190), (92, 182), (86, 172)], "#2f6f5e")
    return canvas


PICTURES: dict[str, Callable[[], Canvas]] = {
    "black-shoes": black_shoes,
    "white-shirt": white_shirt,
    "sun-hat": sun_hat,
    "canvas-bag": canvas_bag,
    "striped-socks": striped_socks,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo_site/static"))
    out = parser.parse_args().out
    for name, draw in PICTURES.items():
        path = out / f"{name}.png"
        path.write_bytes(draw().png())
        print(f"{path}  {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
