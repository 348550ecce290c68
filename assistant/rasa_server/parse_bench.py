"""``python -m assistant.rasa_server.parse_bench MODEL < texts.jsonl > parses.jsonl`` (Rasa environment).

Loads a trained Rasa model once and parses each ``{"text": …}`` line as ``assistant.channels.client``
sends it (``assistant.text.normalize.prepare``), timing each parse in the process. Writes one
``{"intent", "confidence", "ranking", "ms"}`` per line, in order (intent may be nlu_fallback; the
ranking is DIET's). Used by ``assistant.devtools.nlu_bench``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from assistant.text.normalize import prepare


async def _run(model: str) -> None:
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    await agent.parse_message("你好")  # warm-up
    for line in sys.stdin:
        text = prepare(json.loads(line)["text"])
        t0 = time.perf_counter()
        parsed = await agent.parse_message(text)
        ms = (time.perf_counter() - t0) * 1000
        intent = parsed.get("intent") or {}
        ranking = [{"name": r["name"], "confidence": round(float(r["confidence"]), 5)}
                   for r in (parsed.get("intent_ranking") or []) if r["name"] != "nlu_fallback"][:5]
        print(json.dumps({"intent": intent.get("name"), "confidence": float(intent.get("confidence") or 0.0),
                          "ranking": ranking, "ms": round(ms, 2)}, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    asyncio.run(_run(sys.argv[1]))
