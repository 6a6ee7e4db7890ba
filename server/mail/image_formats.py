"""Which images mail apps show, judged by the URL alone: PNG, JPEG and GIF over https (the image is never fetched)."""

from __future__ import annotations

from enum import StrEnum
from urllib.parse import urlsplit


class ImageProblem(StrEnum):
    """Why an email's image would not show, each with what the shop should do instead."""

    NOT_HTTPS_URL = "not a full https:// address: emails need the whole address, on https"
    HTTP = "served over http, which Gmail and Outlook block: serve it over https"
    SVG = "an SVG, which Gmail and Outlook do not show: send a PNG or JPEG of the picture"
    WEBP = "a WebP, which Outlook and older mail apps do not show: send a PNG or JPEG"
    OTHER_FORMAT = "not PNG, JPEG or GIF, which mail apps may not show: send a PNG or JPEG"


_FORMATS = {"svg": ImageProblem.SVG, "svgz": ImageProblem.SVG, "webp": ImageProblem.WEBP}
# Picture formats besides those shown: a path ending otherwise (or not at all) names no format, so it passes.
_OTHER_PICTURES = frozenset({"avif", "heic", "heif", "bmp", "tif", "tiff", "ico", "jxl"})


def image_problem(url: str) -> ImageProblem | None:
    """Why mail apps would not show the image at `url`, or None when nothing in the URL says so."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ImageProblem.NOT_HTTPS_URL
    scheme = parts.scheme.lower()
    if scheme == "http" and parts.hostname:
        return ImageProblem.HTTP
    if scheme != "https" or not parts.hostname:
        return ImageProblem.NOT_HTTPS_URL
    name = parts.path.rsplit("/", 1)[-1].lower()
    extension = name.rsplit(".", 1)[-1] if "." in name else ""
    if extension in _FORMATS:
        return _FORMATS[extension]
    return ImageProblem.OTHER_FORMAT if extension in _OTHER_PICTURES else None
