"""Fit the router (assistant/dialogue/router.py) on case files: features from Rasa's parse and the
in-process retriever, multinomial logistic weights, the confidence threshold, and the figures that
say whether it is any good (cross-validated route accuracy and ECE, against the current model)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from assistant.devtools.evaluate import Case
from assistant.dialogue.engine import Engine
from assistant.dialogue.router import NLU, ROUTES, RouterModel, ece, fit
from assistant.text.normalize import is_blank, prepare
from assistant.text.readable import unreadable

ACTING = ("answer", "ticket", "handoff")


@dataclass
class Row:
    case: Case
    x: list[float]

    @property
    def labels(self) -> dict[str, float]:
        routes = [r for r in self.case.routes if r in ROUTES]
        return {r: 1.0 / len(routes) for r in routes}


def featurise(cases: list[Case], parse: Callable[[str], dict[str, Any]], engine: Engine,
              progress: Callable[[int], None] | None = None) -> list[Row]:
    """Rows for the cases the router decides: not moderation-only, blank or unreadable ones (the
    moderator and the engine's guards handle those before any route is chosen)."""
    rows = []
    for i, case in enumerate(cases):
        clean = prepare(case.text)
        if any(r in ROUTES for r in case.routes) and not is_blank(clean) and unreadable(clean) is None:
            sig, _, _ = engine.signals(clean, NLU.from_message(parse(clean)))
            rows.append(Row(case, sig.vector()))
        if progress:
            progress(i + 1)
    return rows


def _routed(model: RouterModel, x: list[float], threshold: float) -> str:
    probs = model.probabilities(x)
    route = max(probs, key=lambda r: probs[r])
    if probs[route] < threshold and route in ACTING:
        return "fallback"                   # unsure: clarify or fall back (the route is fallback)
    return route


def figures(model_of: Callable[[int], RouterModel], rows: list[Row], threshold: float) -> dict[str, Any]:
    """Route accuracy (the route, after the threshold, is one the case accepts) and calibration (ECE
    of the chosen route's probability, before the threshold); ``model_of(i)`` is row i's model."""
    ok, confs, hits = 0, [], []
    for i, row in enumerate(rows):
        model = model_of(i)
        ok += _routed(model, row.x, threshold) in row.case.routes
        probs = model.probabilities(row.x)
        top = max(probs, key=lambda r: probs[r])
        confs.append(probs[top])
        hits.append(top in row.case.routes)
    error, diagram = ece(confs, hits)
    return {"cases": len(rows), "route_accuracy": round(ok / max(1, len(rows)), 4), "ece": error,
            "reliability": diagram}


def cross_validate(rows: list[Row], folds: int = 5, c: float = 1.0,
                   seed: int = 7) -> Callable[[int], RouterModel]:
    """Row i's model is fitted without row i's fold (rows shuffled with a fixed seed)."""
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    fold_of = [0] * len(rows)
    for k, i in enumerate(order):
        fold_of[i] = k % folds
    models = [fit([(r.x, r.labels) for r, f in zip(rows, fold_of, strict=True) if f != k], c=c)
              for k in range(folds)]
    return lambda i: models[fold_of[i]]


def calibrate(rows: list[Row], current: RouterModel, folds: int = 5) -> tuple[RouterModel, dict[str, Any]]:
    """The fitted model (all rows) with the threshold that maximises cross-validated accuracy, and a
    report: the current model's figures on the same rows beside the new model's out-of-fold ones."""
    if len({r for row in rows for r in row.labels}) < 2:
        raise ValueError("the cases need at least two different routes to fit a router")
    best_c, best_acc, best = 1.0, -1.0, None
    for c in (0.3, 1.0, 3.0, 10.0):
        model_of = cross_validate(rows, folds, c)
        acc = figures(model_of, rows, 0.0)["route_accuracy"]
        if acc > best_acc + 1e-9:
            best_c, best_acc, best = c, acc, model_of
    assert best is not None
    threshold, thr_acc = 0.0, -1.0
    for t in [i / 20 for i in range(0, 15)]:
        acc = figures(best, rows, t)["route_accuracy"]
        if acc > thr_acc + 1e-9:
            threshold, thr_acc = t, acc
    model = fit([(r.x, r.labels) for r in rows], c=best_c)
    model.threshold = threshold
    brief = ("cases", "route_accuracy", "ece")
    cv = figures(best, rows, threshold)
    report: dict[str, Any] = {
        "cases": len(rows), "folds": folds, "C": best_c, "threshold": threshold,
        "before": {k: v for k, v in figures(lambda i: current, rows, current.threshold).items() if k in brief},
        "cross_validated": cv,
        "in_sample": {k: v for k, v in figures(lambda i: model, rows, threshold).items() if k in brief},
    }
    model.report = report | {"cross_validated": {k: v for k, v in cv.items() if k in brief}}
    return model, report
