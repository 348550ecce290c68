"""Run in the Rasa environment (Python 3.10, no project imports): parse JSON lines ``{"text": …}`` from
stdin with a trained NLU model (argv[1]) and print one JSON line per input:
``{"intent", "confidence", "response_key", "response_confidence"}``. Used by ``bench baselines``."""

from __future__ import annotations

import asyncio
import json
import logging
import sys


def main() -> int:
    logging.disable(logging.WARNING)
    from rasa.core.agent import Agent

    agent = Agent.load(sys.argv[1])
    loop = asyncio.new_event_loop()
    for raw in sys.stdin.buffer:
        text = json.loads(raw.decode("utf-8")).get("text", "")
        parsed = loop.run_until_complete(agent.parse_message(text))
        intent = parsed.get("intent") or {}
        selector = (parsed.get("response_selector") or {}).get("faq", {}).get("response", {})
        print(json.dumps({"intent": intent.get("name"), "confidence": intent.get("confidence"),
                          "response_key": selector.get("intent_response_key"),
                          "response_confidence": selector.get("confidence")}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
