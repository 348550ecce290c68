"""Logs keep tracebacks but no personal data: ``assistant.logs``."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.logs import RedactFilter, redact_handlers
from assistant.moderation.pii import id_check_char, luhn_check_digit

from .conftest import ROOT

ID = "11010519491231002" + id_check_char("11010519491231002")
CARD = "620000123456789" + luhn_check_digit("620000123456789")
PHONE = "13900001234"
RAW = (ID, CARD, PHONE, ID[:6] + " " + ID[6:14] + " " + ID[14:], "139-0000-1234")


def _capture() -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactFilter())
    logger = logging.getLogger("tests.logs.capture")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, out


def _fail(text: str) -> None:
    raise ValueError(f"cannot file {text}")


def test_message_args_and_traceback_are_redacted_but_file_and_line_stay() -> None:
    logger, out = _capture()
    try:
        _fail(f"身份证{RAW[3]} 手机{PHONE}")
    except ValueError:
        line = sys.exc_info()[2].tb_next.tb_frame.f_lineno  # type: ignore[union-attr]
        logger.exception("ticket T-1 for %s failed, card %s, call " + RAW[4], ID, CARD)
    text = out.getvalue()
    for raw in RAW:
        assert raw not in text
    assert text.count("[身份证号已隐藏]") == 2 and "[银行卡号已隐藏]" in text and text.count("[手机号已隐藏]") == 2
    assert "ticket T-1 for" in text                                  # the rest of the message stays
    assert "Traceback (most recent call last)" in text and "ValueError: cannot file" in text
    assert f'test_logs.py", line {line}, in _fail' in text          # where it went wrong


def test_stack_info_and_a_broken_format_string_are_redacted() -> None:
    logger, out = _capture()
    logger.warning("mobile %s and %s", PHONE)                       # one argument short
    logger.info("where %s", ID, stack_info=True)
    text = out.getvalue()
    assert ID not in text and PHONE not in text and "Stack (most recent call last)" in text


def test_the_filter_goes_on_existing_handlers_once() -> None:
    logger = logging.getLogger("tests.logs.handlers")
    first, second = logging.NullHandler(), logging.NullHandler()
    logger.handlers[:] = [first, second]
    redact_handlers("tests.logs.handlers")
    redact_handlers("tests.logs.handlers")
    assert [len(h.filters) for h in logger.handlers] == [1, 1]
    assert isinstance(first.filters[0], RedactFilter)
    logger.handlers.clear()


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          check=True)
    return done.stderr


def test_the_cli_logs_to_stderr_through_the_filter() -> None:
    err = _run("import logging\nfrom assistant.logs import configure\nconfigure(verbose=True)\n"
               "logging.getLogger('assistant.x').info('sender=s1 said %s', " + repr(ID) + ")\n"
               "logging.getLogger('httpx').info('not shown')\n")
    assert "INFO assistant.x: sender=s1 said [身份证号已隐藏]" in err and ID not in err and "not shown" not in err


def test_the_action_server_filters_the_handlers_rasa_sdk_set_up() -> None:
    # rasa_sdk configures logging, then imports the actions package.
    err = _run("import logging\nlogging.basicConfig()\nimport actions\n"
               "logging.getLogger('actions.x').error('call %s', " + repr(PHONE) + ")\n")
    assert "call [手机号已隐藏]" in err and PHONE not in err


def test_a_failing_redactor_withholds_the_text_and_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    import assistant.logs

    def broken(text: str) -> str:
        raise RuntimeError("no redactor")

    monkeypatch.setattr(assistant.logs, "_redact", broken)
    logger, out = _capture()
    try:
        _fail(ID)
    except ValueError:
        logger.exception("card %s", CARD)
    text = out.getvalue()
    assert "log text withheld: redaction failed with RuntimeError" in text and ID not in text and CARD not in text


def test_the_cli_main_sets_up_logging_with_the_filter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import assistant.logs
    from assistant.cli.main import main

    calls: list[bool] = []
    monkeypatch.setattr(assistant.logs, "configure", calls.append)
    main(["-v", "kb", "check", "--dir", str(tmp_path)])
    assert calls == [True]
