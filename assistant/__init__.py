"""锦山壹号 community assistant: the reusable engine behind the Rasa project."""

from __future__ import annotations

__version__ = "0.1.0"
