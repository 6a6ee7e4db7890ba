"""Entry point for `python -m build_tracker`."""

from build_tracker import main

raise SystemExit(main())
