"""Text helpers for tickets: cleaning and display-name masking. Personal numbers are redacted by
``assistant.moderation.pii`` (the one redactor), units read by ``assistant.text.units``."""

from __future__ import annotations

import re

from assistant.moderation.pii import redact_text


def mask_name(name: str) -> str:
    """A display name as shown to staff: redacted, then all but the first character masked
    (张伟 -> 张*, 王小明 -> 王**, Alice -> A****). Empty stays empty."""
    name = redact_text(clean(name)).strip()
    if len(name) <= 1 or name.startswith("["):
        return name
    return name[0] + "*" * min(len(name) - 1, 8)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean(text: str) -> str:
    """Drop control characters (PostgreSQL refuses NUL); keep newlines and tabs; trim the ends."""
    return _CONTROL.sub("", text.replace("\r\n", "\n")).strip()
