"""Known bots, crawlers, headless browsers and mail security scanners, told apart by their user agent.

The patterns are CrawlerDetect's (the `crawlerdetect` package, a maintained port of
JayBizzle/Crawler-Detect with over 1,400 patterns), rather than a list of our own; beside them, only
the names of mail security gateways it lacks, for the clicks of emails' links.
"""

from __future__ import annotations

import re

from crawlerdetect import CrawlerDetect

_detector = CrawlerDetect()
# Compiles both pattern sets at start-up rather than in a worker's first request: a user agent of nothing but words
# the exclusions remove ("Mozilla/5.0") never reaches the crawler patterns, so the warm-up names a browser.
_detector.is_crawler("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")


def is_bot(user_agent: str | None) -> bool:
    """True for a user agent the patterns know, and for none at all (every browser sends one)."""
    return not user_agent or _detector.is_crawler(user_agent)


# Mail security gateways that follow every link of an email before (or as) it reaches the inbox, in the words their
# fetches carry; those CrawlerDetect knows already (BingPreview, "Microsoft Office Existence Discovery") are matched
# by it. Many gateways (Microsoft's Safe Links among them) fetch with a browser's user agent: the time
# since delivery tells those apart, not this list.
_MAIL_SCANNERS = re.compile(
    r"barracuda|proofpoint|urldefense|mimecast|safelinks|msoffice|ms-office|microsoft office|"
    r"ironport|cisco ?secure ?email|trend ?micro|\btmes\b|fortimail|fortiguard|sophos|symantec|forcepoint|"
    r"mcafee|trellix|fireeye|zscaler|checkpoint|check point|avanan|abnormal ?security|vade|spamtitan|"
    r"libraesva|hornetsecurity|zix",
    re.IGNORECASE,
)


def is_mail_scanner(user_agent: str | None) -> bool:
    """A bot as `is_bot` says, or a mail security gateway naming itself."""
    return is_bot(user_agent) or bool(user_agent and _MAIL_SCANNERS.search(user_agent))
