"""Run the demo shop with ``python -m demo_site`` on DEMO_PORT (default 5001)."""

from __future__ import annotations

import os

from demo_site import create_app

if __name__ == "__main__":
    create_app().run(
        host=os.environ.get("DEMO_HOST", "127.0.0.1"),
        port=int(os.environ.get("DEMO_PORT", "5001")),
    )
