"""Port options before or after the subcommand."""

from __future__ import annotations

import pytest

from assistant.cli.main import _parser


@pytest.mark.parametrize("argv, expected", [
    (["serve", "--rasa-port", "7005", "--action-port", "7055"], (7005, 7055)),
    (["--rasa-port", "7005", "--action-port", "7055", "serve"], (7005, 7055)),
    (["--rasa-port", "7005", "serve", "--action-port", "7055"], (7005, 7055)),
    (["serve"], (None, None)),
    (["ask", "车位", "--rasa-port", "7005"], (7005, None)),
    (["eval", "cases.yml", "--action-port", "7055"], (None, 7055)),
    (["chat", "--rasa-port", "7005"], (7005, None)),
    (["webchat", "--port", "8089", "--rasa-port", "7005"], (7005, None)),
    (["bench", "latency", "--rasa-port", "7005", "--action-port", "7055"], (7005, 7055)),
])
def test_port_options_are_accepted_after_the_subcommand(argv: list[str], expected: tuple[int | None, ...]) -> None:
    args = _parser().parse_args(argv)
    assert (args.rasa_port, args.action_port) == expected


def test_serve_help_mentions_the_ports(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["serve", "--help"])
    out = capsys.readouterr().out
    assert "--rasa-port" in out and "--action-port" in out


def test_commands_that_start_no_server_do_not_take_ports() -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["tickets", "list", "--rasa-port", "7005"])
