"""``python -m assistant calibrate router CASES.yml [...]``: fit the routing decision on held-out cases."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.cli.common import dump

if TYPE_CHECKING:
    from assistant.settings import Settings


def add_parser(sub: Any) -> argparse.ArgumentParser:
    c = sub.add_parser("calibrate", help="fit the router's weights and threshold on case files")
    cs = c.add_subparsers(dest="what", required=True)
    r = cs.add_parser("router", help="route model from Rasa's parse, retrieval and complaint signals")
    r.add_argument("cases", type=Path, nargs="+", help="case files in the eval format")
    r.add_argument("--out", type=Path, help="where to write the model (default assistant/resources/router.json)")
    r.add_argument("--folds", type=int, default=5)
    r.add_argument("--dry-run", action="store_true", help="print the figures, write nothing")
    r.add_argument("--json", action="store_true")
    a = cs.add_parser("answer", help="reranker (from the knowledge base) and answer confidence (from cases "
                                     "with an expected `entry:`)")
    a.add_argument("cases", type=Path, nargs="+", help="case files in the eval format, with `entry:` keys")
    a.add_argument("--out", type=Path, help="where to write the model (default assistant/resources/answer.json)")
    a.add_argument("--max-wrong", type=float, default=0.03, help="wrong share allowed among confident answers")
    a.add_argument("--dry-run", action="store_true", help="print the figures, write nothing")
    c.set_defaults(run=run)
    return c


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.what == "answer":
        return run_answer(args, settings)
    return run_router(args, settings)


def run_answer(args: argparse.Namespace, settings: Settings) -> int:
    import httpx

    from assistant.devtools.evaluate import load_cases
    from assistant.dialogue.router import NLU
    from assistant.knowledge.build import load_retriever
    from assistant.knowledge.fit_answer import Labelled, fit_answer_model
    from assistant.knowledge.rerank import DEFAULT_PATH
    from assistant.runtime.app import scratch_settings
    from assistant.runtime.services import Services
    from assistant.text.normalize import prepare

    labelled = [c for path in args.cases for c in load_cases(path) if c.entries is not None]
    if not labelled:
        print("no case has an `entry:` key", file=sys.stderr)
        return 2
    retriever = load_retriever(settings)
    # the topic each case gets is the one Rasa's NLU gives it, as in a real turn
    settings = scratch_settings(settings, Services(settings).rasa_up())
    with Services(settings), httpx.Client(timeout=30.0) as http:
        url, token = f"{settings.rasa_url}/model/parse", settings.rasa_api_token()
        topics = [NLU.from_message(http.post(url, params={"token": token}, json={"text": prepare(c.text)}).json())
                  .faq_topic() for c in labelled]
    cases = [Labelled(c.text, frozenset(c.entries or ()), t) for c, t in zip(labelled, topics, strict=True)]
    model = fit_answer_model(retriever.kb, retriever.index, retriever.embedder, retriever, cases,
                             max_wrong=args.max_wrong)
    print(dump({**model.report, "answer_at": model.answer_at, "related_at": model.related_at}))
    if not args.dry_run:
        out = args.out or DEFAULT_PATH
        model.save(out)
        print(f"wrote {out}", file=sys.stderr)
    return 0


def run_router(args: argparse.Namespace, settings: Settings) -> int:
    import httpx

    from assistant.devtools.calibrate_router import calibrate, featurise
    from assistant.devtools.evaluate import load_cases
    from assistant.dialogue.engine import Engine
    from assistant.dialogue.router import DEFAULT_PATH, RouterModel
    from assistant.errors import ServiceError
    from assistant.knowledge.build import load_retriever
    from assistant.runtime.app import scratch_settings
    from assistant.runtime.services import Services

    cases = [c for path in args.cases for c in load_cases(path)]
    retriever = load_retriever(settings)
    engine = Engine(retriever.kb, retriever, None, router=RouterModel.default())
    out = args.out or DEFAULT_PATH
    current = RouterModel.load(out)
    settings = scratch_settings(settings, Services(settings).rasa_up())
    with Services(settings), httpx.Client(timeout=30.0) as http:
        url = f"{settings.rasa_url}/model/parse"
        token = settings.rasa_api_token()

        def parse(text: str) -> dict[str, Any]:
            try:
                resp = http.post(url, params={"token": token}, json={"text": text})
                resp.raise_for_status()
                return dict(resp.json())
            except (httpx.HTTPError, ValueError) as exc:
                raise ServiceError(f"Rasa /model/parse failed: {type(exc).__name__}") from exc

        rows = featurise(cases, parse, engine)
    model, report = calibrate(rows, current, folds=args.folds)
    if args.json:
        print(dump(report))
    else:
        b, cv = report["before"], report["cross_validated"]
        print(f"{report['cases']} cases; current model: route {b['route_accuracy']:.3f}, ECE {b['ece']:.3f}; "
              f"fitted ({report['folds']}-fold CV, C={report['C']}, threshold {report['threshold']:.2f}): "
              f"route {cv['route_accuracy']:.3f}, ECE {cv['ece']:.3f}")
        print("reliability (confidence bin, cases, mean confidence, accuracy):")
        for r in cv["reliability"]:
            print(f"  {r['bin']:.1f}  {r['count']:4d}  {r['confidence']:.3f}  {r['accuracy']:.3f}")
    if not args.dry_run:
        model.save(out)
        print(f"wrote {out}", file=sys.stderr)
    return 0
