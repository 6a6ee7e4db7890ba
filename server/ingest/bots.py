"""Known bots, crawlers and headless browsers, told apart by their user agent.

The patterns are CrawlerDetect's (the `crawlerdetect` package, a maintained port of
JayBizzle/Crawler-Detect with over 1,400 patterns), rather than a list of our own.
"""

from __future__ import annotations

from crawlerdetect import CrawlerDetect

_detector = CrawlerDetect()
_detector.is_crawler("Mozilla/5.0")  # compiles the patterns at start-up rather than in the first request


def is_bot(user_agent: str | None) -> bool:
    """True for a user agent the patterns know, and for none at all (every browser sends one)."""
    return not user_agent or _detector.is_crawler(user_agent)
