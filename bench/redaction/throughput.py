"""Throughput of the redaction engine against default Presidio on the same machine and texts.

    .venv/bin/python bench/redaction/throughput.py [--rounds N]

"Plain analysis" is Presidio as its docs set it up (`AnalyzerEngine` with its predefined
recognizers) over the same spaCy model, `en_core_web_sm`, with its whole pipeline. Measured per
paragraph of corpus.jsonl over N rounds, each measure interleaved with the others paragraph
by paragraph (the machine is shared: a busy neighbour then slows every measure alike):

- preview: `engine.preview(text, roster)` on a text never seen before;
- publish re-scan: `engine.leaks(engine.apply(text, spans, roster).text, roster)`, what
  publishing does after the reviewer accepted the spans;
- preview again: the same text previewed a second time (a reviewer reloading the page).

The target (issue 8, item 19): preview + publish re-scan <= 1.5x one plain analysis.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import spacy
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry

from govsvc.redaction import RedactionEngine, Roster, Span, load_redaction_patterns
from govsvc.redaction.nlp import REPACKAGED, InstalledSpacyEngine

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).with_name("corpus.jsonl")


def default_presidio() -> AnalyzerEngine:
    name = next(n for n in REPACKAGED["en_core_web_sm"] if spacy.util.is_package(n))
    nlp = InstalledSpacyEngine(spacy.load(name), "en_core_web_sm")  # whole pipeline
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(nlp_engine=nlp)
    return AnalyzerEngine(registry=registry, nlp_engine=nlp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import run as labelled  # the accuracy benchmark beside this file: same roster reading

    records: list[dict[str, Any]] = [
        json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()
    ]
    rosters = [labelled.roster_of(r) for r in records]
    presidio = default_presidio()
    patterns = load_redaction_patterns(ROOT / "policies" / "redaction.yaml")
    presidio.analyze("warm-up: Maria paged ops at 14:32 UTC.", language="en")
    totals = dict.fromkeys(MEASURES, 0.0)
    leaking = 0
    for _ in range(args.rounds):
        engine = RedactionEngine(patterns=patterns)  # cold caches every round
        engine.preview("warm-up: Maria paged ops at 14:32 UTC.", rosters[0])
        # Interleaved per paragraph, so a busy neighbour slows every measure alike.
        for record, roster in zip(records, rosters, strict=True):
            text, allow = record["text"], record["services"]
            spent, _ = timed(partial(presidio.analyze, text, language="en"))
            totals["plain"] += spent
            spent, spans = timed(partial(engine.preview, text, roster, extra_allow=allow))
            totals["preview"] += spent
            spent, found = timed(partial(publish_rescan, engine, text, spans, roster))
            totals["rescan"] += spent
            leaking += bool(found)
            spent, _ = timed(partial(engine.preview, text, roster, extra_allow=allow))
            totals["again"] += spent
    n = len(records) * args.rounds
    per = {k: 1000 * v / n for k, v in totals.items()}
    per["both"] = per["preview"] + per["rescan"]
    chars = sum(len(r["text"]) for r in records) / len(records)
    print(
        f"python {platform.python_version()}, {len(records)} paragraphs of ~{chars:.0f} chars, "
        f"{args.rounds} rounds"
    )
    print("| measure | ms per paragraph | x plain analysis |")
    print("| --- | ---: | ---: |")
    for key, name in LABELS.items():
        print(f"| {name} | {per[key]:.1f} | {per[key] / per['plain']:.2f} |")
    print(f"paragraphs with leaks() after apply(preview()): {leaking}")


MEASURES = ("plain", "preview", "rescan", "again")
LABELS = {
    "plain": "plain analysis (default Presidio)",
    "preview": "preview (new text)",
    "rescan": "publish re-scan (apply + leaks)",
    "both": "preview + publish re-scan",
    "again": "preview again (same text)",
}
T = TypeVar("T")


def publish_rescan(
    engine: RedactionEngine, text: str, spans: list[Span], roster: Roster
) -> list[Span]:
    """What publishing does once the reviewer accepted the spans."""
    return engine.leaks(engine.apply(text, spans, roster).text, roster)


def timed(call: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


if __name__ == "__main__":
    main()
