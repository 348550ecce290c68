"""Logging that keeps privacy and debuggability.

Log calls keep their tracebacks (``log.exception`` / ``exc_info``), so a bug shows its file and
line. ``RedactFilter`` takes personal numbers (ID, bank card, mobile, plate: the one redactor,
``assistant.moderation.pii``) out of a record's formatted message and formatted traceback before a
handler writes it: exception messages may quote what a resident typed.

The library never adds handlers; the application does. The CLI calls ``configure``; the action
server (rasa_sdk sets up its logging, then imports ``actions``) calls ``redact_handlers``.
"""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
NOISY = ("jieba", "bm25s", "httpx", "sentence_transformers", "transformers")  # kept at WARNING
_TRACEBACKS = logging.Formatter()


def _redact(text: str) -> str:
    # Imported here: the moderation package's __init__ pulls in SQLAlchemy, the CLI must start light.
    from assistant.moderation.pii import redact

    return redact(text)[0]


class RedactFilter(logging.Filter):
    """Redacts personal data from the record's message (its args merged in), exception text and stack.

    Attach it to handlers, not loggers: a logger's filters never see records propagated from its
    children. The record is changed in place, so handlers after this one get the redacted text too;
    ``exc_info`` is dropped once its text is kept (formatters print ``exc_text``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            self._clean(record)
        except Exception as exc:  # never raise into the caller's log call; never let raw text out
            record.msg, record.args = f"(log text withheld: redaction failed with {type(exc).__name__})", ()
            record.exc_info = record.exc_text = record.stack_info = None
        return True

    @staticmethod
    def _clean(record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep its parts, redacted
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = _redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _redact(record.exc_text)
        record.exc_info = None
        if record.stack_info:
            record.stack_info = _redact(record.stack_info)


def configure(verbose: bool = False) -> None:
    """The application's logging: records at INFO (``verbose``) or WARNING go to stderr through
    ``RedactFilter``; chatty libraries stay at WARNING. Like ``logging.basicConfig``, nothing changes
    when the root logger already has handlers (an embedding application configured logging)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RedactFilter())
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler])
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)


def redact_handlers(*loggers: str) -> None:
    """Put ``RedactFilter`` on the handlers already attached to these loggers (default: the root
    logger), once each; for processes whose logging a framework set up. Adds no handler."""
    for name in loggers or ("",):
        for handler in logging.getLogger(name or None).handlers:
            if not any(isinstance(f, RedactFilter) for f in handler.filters):
                handler.addFilter(RedactFilter())
