"""What a reader of a dashboard page sees of its layout, measured in Chromium: sideways scrolling, text squeezed to
a letter per line, text running out of its box, cells pushed off-screen, and the contrast of small badges."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Page

# WCAG 2's contrast ratio of two opaque colours, from the computed styles: (L1 + 0.05) / (L2 + 0.05).
_MEASURE = """
(selectors) => {
  const channel = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
  const rgb = (colour) => colour.match(/[\\d.]+/g).slice(0, 4).map(Number);
  const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const background = (element) => {
    for (let at = element; at; at = at.parentElement) {
      const colour = rgb(getComputedStyle(at).backgroundColor);
      if (colour.length < 4 || colour[3] > 0) return colour;
    }
    return [255, 255, 255];
  };
  const shown = (element) => element.getClientRects().length > 0 && getComputedStyle(element).visibility !== "hidden";
  const contrast = [...document.querySelectorAll(selectors.badges)].filter(shown).map((badge) => {
    const [a, b] = [luminance(rgb(getComputedStyle(badge).color)), luminance(background(badge))];
    return { text: badge.textContent.trim(), ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05) };
  });
  const canvas = document.createElement("canvas").getContext("2d");
  const squeezed = [...document.querySelectorAll(selectors.cells)].filter(shown).flatMap((cell) => {
    const text = cell.textContent.trim();
    const style = getComputedStyle(cell);
    canvas.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    const inner = cell.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const needed = Math.min(canvas.measureText(text).width, canvas.measureText("0".repeat(6)).width);
    return text && inner + 1 < needed ? [{ text: text.slice(0, 40), width: inner, needed }] : [];
  });
  const offscreen = [...document.querySelectorAll(selectors.visible)].filter(shown).flatMap((element) => {
    const box = element.getBoundingClientRect();
    return box.left < 0 || box.right > window.innerWidth + 0.5 ? [element.textContent.trim().slice(0, 40)] : [];
  });
  const spilled = [...document.querySelectorAll(selectors.boxes)].filter(shown).flatMap((box) =>
    box.scrollWidth > box.clientWidth + 1 ? [box.textContent.trim().slice(0, 40)] : []);
  return {
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    contrast, squeezed, offscreen, spilled,
  };
}
"""


@dataclass(frozen=True)
class Layout:
    overflow: int  # pixels the page scrolls sideways
    contrast: list[dict[str, Any]]  # each badge's text and contrast ratio
    squeezed: list[dict[str, Any]]  # cells narrower than their text or six digits: text wrapping letter by letter
    offscreen: list[str]  # elements that must be seen but start or end outside the window
    spilled: list[str]  # boxes whose text runs out of them (a long word or URL that does not wrap)


def measure(page: Page, badges: str, cells: str, visible: str, boxes: str) -> Layout:
    """The layout of `page`: `badges` to check the contrast of, `cells` that must not be squeezed, `visible` that
    must be within the window's width, `boxes` whose text must stay inside them."""
    found = page.evaluate(_MEASURE, {"badges": badges, "cells": cells, "visible": visible, "boxes": boxes})
    return Layout(**found)
