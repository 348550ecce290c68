"""The desk: the human side the engine hands work to. Dispute tickets (``tickets``), the handoff
queue and duty roster (``handoff``), the residents' outbox (``notices``), pushes to residents
(``push``), admin notifications (``admin_notify``) and the periodic sweep (``sweep``), behind one
``Desk`` (a context manager that closes its databases)."""

from assistant.desk.desk import Desk

__all__ = ["Desk"]
