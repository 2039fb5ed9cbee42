"""Measure the redaction engine on the labelled corpus: precision, recall and F2 per entity type,
how often a labelled value is left (partly) readable, and paragraphs per second.

    .venv/bin/python bench/redaction/run.py [--errors] [--corpus PATH]

Matching rule (span level, overlap based): a labelled span is found when some predicted span
of the same entity type shares at least one character with it; a predicted span is correct
when it shares at least one character with a labelled span of its type. Precision and recall
are computed per type from those two counts (so one prediction covering two labels counts once
for precision and twice for recall). F2 weighs recall four times as much as precision: a leak
costs more than an over-redaction.

Overlap is lenient (half a name redacted still counts as found), so the table also reports,
per type, the share of labelled spans whose every non-space character is covered by some
prediction of any type: "covered" is what a reader of the published text would not see.

The dev and holdout splits of the corpus are reported separately (see README.md).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govsvc.redaction import (
    RedactionEngine,
    Roster,
    RosterPerson,
    Span,
    load_redaction_patterns,
)

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).with_name("corpus.jsonl")


@dataclass
class Counts:
    gold: int = 0
    found: int = 0  # labelled spans matched by a prediction of the same type
    covered: int = 0  # labelled spans fully hidden by predictions of any type
    predicted: int = 0
    correct: int = 0  # predictions matching a labelled span of the same type
    misses: list[str] = field(default_factory=list)
    false_alarms: list[str] = field(default_factory=list)

    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 1.0

    def recall(self) -> float:
        return self.found / self.gold if self.gold else 1.0

    def f2(self) -> float:
        p, r = self.precision(), self.recall()
        return 5 * p * r / (4 * p + r) if p + r else 0.0


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def roster_of(record: dict[str, Any]) -> Roster:
    people = tuple(
        RosterPerson(p["name"], emails=tuple(p["emails"]), handles=tuple(p["handles"]))
        for p in record["roster"]["people"]
    )
    return Roster(people, tuple(record["roster"]["teams"]), tuple(record["roster"]["customers"]))


def score(
    text: str, gold: list[dict[str, Any]], predicted: list[Span], counts: dict[str, Counts]
) -> None:
    for g in gold:
        c = counts[g["type"]]
        c.gold += 1
        where = (g["start"], g["end"])
        if any(
            p.entity_type == g["type"] and _overlaps(where, (p.start, p.end)) for p in predicted
        ):
            c.found += 1
        else:
            near = [
                (p.text, p.entity_type) for p in predicted if _overlaps(where, (p.start, p.end))
            ]
            c.misses.append(f"{g['text']!r} <- {near}")
        hidden = all(
            text[i].isspace() or any(p.start <= i < p.end for p in predicted)
            for i in range(g["start"], g["end"])
        )
        c.covered += hidden
    for p in predicted:
        c = counts[p.entity_type]
        c.predicted += 1
        if any(
            g["type"] == p.entity_type and _overlaps((p.start, p.end), (g["start"], g["end"]))
            for g in gold
        ):
            c.correct += 1
        else:
            context = text[max(0, p.start - 30) : p.end + 30].replace("\n", " ")
            c.false_alarms.append(f"{p.text!r} by {p.recognizer} in …{context}…")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--errors", action="store_true", help="print every miss and false alarm")
    parser.add_argument("--model", default="en_core_web_sm")
    args = parser.parse_args()

    records = [json.loads(line) for line in args.corpus.read_text(encoding="utf-8").splitlines()]
    started = time.perf_counter()
    engine = RedactionEngine(
        model=args.model, patterns=load_redaction_patterns(ROOT / "policies" / "redaction.yaml")
    )
    load_seconds = time.perf_counter() - started
    engine.preview("warm-up: Maria paged ops at 14:32 UTC.", Roster())

    splits = sorted({r.get("split", "all") for r in records})
    print(
        f"corpus: {args.corpus.name}, {len(records)} paragraphs ({', '.join(splits)}), "
        f"model {args.model}"
    )
    print(f"python {platform.python_version()}, engine load {load_seconds:.2f} s")
    for split in splits:
        evaluate(engine, [r for r in records if r.get("split", "all") == split], split, args.errors)


def evaluate(
    engine: RedactionEngine, records: list[dict[str, Any]], split: str, errors: bool
) -> None:
    counts: dict[str, Counts] = defaultdict(Counts)
    preview_seconds = 0.0
    leaking = 0
    for record in records:
        roster = roster_of(record)
        started = time.perf_counter()
        spans = engine.preview(record["text"], roster, extra_allow=record["services"])
        preview_seconds += time.perf_counter() - started
        score(record["text"], record["spans"], spans, counts)
        redacted = engine.apply(record["text"], spans, roster)
        leaking += bool(engine.leaks(redacted.text, roster))

    total = Counts()
    for c in counts.values():
        for name in ("gold", "found", "covered", "predicted", "correct"):
            setattr(total, name, getattr(total, name) + getattr(c, name))

    print(f"\n### {split}: {len(records)} paragraphs\n")
    print(
        f"preview: {len(records) / preview_seconds:.1f} paragraphs/s "
        f"({1000 * preview_seconds / len(records):.1f} ms each, one thread); "
        f"paragraphs with leaks() after apply(preview()): {leaking}\n"
    )
    print("| entity type | labelled | predicted | precision | recall | F2 | covered |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in sorted(counts, key=lambda n: (-counts[n].gold, n)):
        c = counts[name]
        covered = f"{c.covered / c.gold:.3f}" if c.gold else "-"
        print(
            f"| {name} | {c.gold} | {c.predicted} | {c.precision():.3f} | {c.recall():.3f} "
            f"| {c.f2():.3f} | {covered} |"
        )
    print(
        f"| **all** | {total.gold} | {total.predicted} | {total.precision():.3f} "
        f"| {total.recall():.3f} | {total.f2():.3f} | {total.covered / total.gold:.3f} |"
    )
    if errors:
        for name, c in sorted(counts.items()):
            for miss in c.misses:
                print(f"MISS {split} {name}: {miss}")
            for alarm in c.false_alarms:
                print(f"FALSE {split} {name}: {alarm}")


if __name__ == "__main__":
    main()
