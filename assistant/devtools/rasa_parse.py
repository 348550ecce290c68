"""Run in the Rasa environment (Python 3.10, no project imports): parse JSON lines ``{"text": …}`` from
stdin with a trained NLU model (argv[1]) and print one line per input, ``MARK`` + JSON
``{"intent", "confidence", "response_key", "response_confidence"}``. Used by ``bench baselines``."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys

MARK = "@parse "    # starts every result line; whatever else reaches stdout is not a result


def main() -> int:
    logging.disable(logging.WARNING)
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")   # results only; everything else written to fd 1
    os.dup2(2, 1)                                       # (jieba, TensorFlow, Rasa) goes to stderr
    sys.stdout = sys.stderr
    from rasa.core.agent import Agent

    agent = Agent.load(sys.argv[1])
    loop = asyncio.new_event_loop()
    for raw in sys.stdin.buffer:
        text = json.loads(raw.decode("utf-8")).get("text", "")
        parsed = loop.run_until_complete(agent.parse_message(text))
        intent = parsed.get("intent") or {}
        selector = (parsed.get("response_selector") or {}).get("faq", {}).get("response", {})
        print(MARK + json.dumps({"intent": intent.get("name"), "confidence": intent.get("confidence"),
                                 "response_key": selector.get("intent_response_key"),
                                 "response_confidence": selector.get("confidence")}), file=out, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
