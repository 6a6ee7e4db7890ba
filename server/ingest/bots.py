"""Known bots, crawlers and headless browsers, told apart by their user agent.

The patterns are CrawlerDetect's (the `crawlerdetect` package, a maintained port of
JayBizzle/Crawler-Detect with over 1,400 patterns), rather than a list of our own.
"""

from __future__ import annotations

from crawlerdetect import CrawlerDetect

_detector = CrawlerDetect()
# Compiles both pattern sets at start-up rather than in a worker's first request: a user agent of nothing but words
# the exclusions remove ("Mozilla/5.0") never reaches the crawler patterns, so the warm-up names a browser.
_detector.is_crawler("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")


def is_bot(user_agent: str | None) -> bool:
    """True for a user agent the patterns know, and for none at all (every browser sends one)."""
    return not user_agent or _detector.is_crawler(user_agent)
