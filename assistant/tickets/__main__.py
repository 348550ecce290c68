"""``python -m assistant.tickets list|show|...``: the admin CLI on its own."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
