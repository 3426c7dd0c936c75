"""Crisis triage benchmark: recall on the labelled set, false escalations on SAD, the graded Reddit C-SSRS check, speed.

    make bench-triage            (or: .venv/bin/python bench/triage_bench.py [--shared DIR] [--out FILE])

The data sets stay in ../shared/datasets (their licences forbid copying them here); they are read at run time and
only aggregate figures are printed and written to bench/results/triage.json — never a text from them.
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import math
import statistics
import sys
import tempfile
import time
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from peerline.triage import RiskLevel, TriageResult, default_rules, highest, triage

ROOT = Path(__file__).resolve().parents[1]
LABELLED = ROOT / "tests" / "triage" / "labelled.csv"
DEFAULT_SHARED = ROOT.parent / "shared"
SAD_ZIP = Path("datasets/sad-stress-sms-2021/SAD_v1.zip")
REDDIT_CSV = Path("datasets/reddit-cssrs-gaur2019/500_Reddit_users_posts_labels.csv")
LEVELS = [RiskLevel.NONE, RiskLevel.CONCERN, RiskLevel.HIGH, RiskLevel.IMMINENT]
CSSRS = ["Supportive", "Indicator", "Ideation", "Behavior", "Attempt"]
Z95 = 1.959963984540054


def wilson_lower(successes: int, total: int, z: float = Z95) -> float:
    """Lower bound of the Wilson score interval (95% by default) for a proportion."""
    if total == 0:
        return 0.0
    p = successes / total
    centre = p + z * z / (2 * total)
    spread = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return (centre - spread) / (1 + z * z / total)


def proportion(successes: int, total: int) -> dict[str, Any]:
    return {
        "n": total,
        "hits": successes,
        "rate": round(successes / total, 4) if total else None,
        "wilson95_lower": round(wilson_lower(successes, total), 4),
    }


class Timer:
    """Scores texts and keeps the time each one took (µs), per group."""

    def __init__(self) -> None:
        self.micros: dict[str, list[float]] = defaultdict(list)

    def score(self, text: str, group: str) -> TriageResult:
        started = time.perf_counter_ns()
        result = triage(text)
        self.micros[group].append((time.perf_counter_ns() - started) / 1000)
        return result

    def summary(self) -> dict[str, Any]:
        groups = {**self.micros, "all": [t for times in self.micros.values() for t in times]}
        return {group: _timing(times) for group, times in groups.items() if times}


def _timing(times: list[float]) -> dict[str, Any]:
    ordered = sorted(times)
    return {
        "n": len(ordered),
        "median_us": round(statistics.median(ordered), 1),
        "p99_us": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1),
        "max_us": round(ordered[-1], 1),
    }


def progress(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- labelled set


def bench_labelled(timer: Timer) -> dict[str, Any]:
    rows = list(csv.DictReader(LABELLED.open(encoding="utf-8")))
    per_level: dict[str, list[bool]] = defaultdict(list)
    exact: dict[str, list[bool]] = defaultdict(list)
    per_category: dict[str, list[bool]] = defaultdict(list)
    category_named: dict[str, list[bool]] = defaultdict(list)
    per_language: dict[str, list[bool]] = defaultdict(list)
    misses = []
    for row in rows:
        expected = RiskLevel(row["level"])
        result = timer.score(row["text"], "labelled")
        caught = result.level.rank >= expected.rank if expected is not RiskLevel.NONE else result.level is expected
        per_level[expected].append(caught)
        exact[expected].append(result.level is expected)
        if expected is not RiskLevel.NONE:
            per_language[row["language"]].append(caught)
        for category in filter(None, row["categories"].split(";")):
            per_category[category].append(caught)
            category_named[category].append(category in result.categories)
        if not caught and expected.rank >= RiskLevel.HIGH.rank:
            misses.append({"level": expected.value, "scored": result.level.value, "rules": result.rules})
    return {
        "texts": len(rows),
        # for none: the share left at none (specificity on hard negatives)
        "recall_by_level": {level: proportion(sum(v), len(v)) for level, v in per_level.items()},
        "exact_by_level": {level: proportion(sum(v), len(v)) for level, v in exact.items()},
        "recall_by_category": {c: proportion(sum(v), len(v)) for c, v in sorted(per_category.items())},
        "category_named": {c: proportion(sum(v), len(v)) for c, v in sorted(category_named.items())},
        "recall_by_language": {lang: proportion(sum(v), len(v)) for lang, v in sorted(per_language.items())},
        "high_or_imminent_misses": misses,
    }


# ---------------------------------------------------------------------------------------------- SAD


def sad_sentences(zip_path: Path) -> Iterator[str]:
    import openpyxl

    with tempfile.TemporaryDirectory(prefix="sad-") as folder, zipfile.ZipFile(zip_path) as archive:
        member = next(name for name in archive.namelist() if name.endswith(".xlsx"))
        archive.extract(member, folder)
        workbook = openpyxl.load_workbook(Path(folder) / member, read_only=True)
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = [str(cell) for cell in next(rows)]
        column = header.index("sentence")
        for row in rows:
            if row[column] is not None and str(row[column]).strip():
                yield str(row[column])
        workbook.close()


def bench_sad(zip_path: Path, timer: Timer) -> dict[str, Any]:
    levels: Counter[str] = Counter()
    rules: Counter[str] = Counter()
    total = 0
    for total, sentence in enumerate(sad_sentences(zip_path), start=1):
        result = timer.score(sentence, "sad")
        levels[result.level] += 1
        if result.level is not RiskLevel.NONE:
            rules.update(result.rules)
        if total % 2000 == 0:
            progress(f"SAD: {total} sentences scored")
    escalated = levels[RiskLevel.HIGH] + levels[RiskLevel.IMMINENT]
    flagged = escalated + levels[RiskLevel.CONCERN]
    return {
        "sentences": total,
        "levels": {level.value: levels[level] for level in LEVELS},
        "false_escalation_high_or_imminent": proportion(escalated, total),
        "flagged_concern_or_above": proportion(flagged, total),
        "rules_behind_flags": dict(rules.most_common()),
    }


# ---------------------------------------------------------------------------------------------- Reddit C-SSRS


def reddit_users(csv_path: Path) -> Iterator[tuple[str, list[str]]]:
    csv.field_size_limit(sys.maxsize)
    with csv_path.open(encoding="utf-8", errors="replace", newline="") as handle:
        for row in csv.DictReader(handle):
            try:
                posts = ast.literal_eval(row["Post"])
            except (ValueError, SyntaxError):
                posts = [row["Post"]]
            yield row["Label"].strip(), [str(post) for post in (posts if isinstance(posts, list) else [posts])]


def bench_reddit(csv_path: Path, timer: Timer) -> dict[str, Any]:
    table: dict[str, Counter[str]] = {label: Counter() for label in CSSRS}
    users = 0
    for users, (label, posts) in enumerate(reddit_users(csv_path), start=1):
        level = highest(timer.score(post, "reddit_post").level for post in posts)
        table.setdefault(label, Counter())[level] += 1
        if users % 100 == 0:
            progress(f"Reddit: {users} users scored")
    at_risk = ("Ideation", "Behavior", "Attempt")
    graded = {label: proportion(_at_least(table[label], RiskLevel.HIGH), sum(table[label].values())) for label in table}
    at_risk_hits = sum(_at_least(table[label], RiskLevel.HIGH) for label in at_risk)
    at_risk_total = sum(sum(table[label].values()) for label in at_risk)
    return {
        "users": users,
        "confusion": {label: {level.value: table[label][level] for level in LEVELS} for label in table},
        "share_scored_high_or_above_by_label": graded,
        "ideation_behavior_attempt_scored_high_or_above": proportion(at_risk_hits, at_risk_total),
        "caveat": "user-level labels over all of a user's posts; knowledge-normalised text (see the dataset README)",
    }


def _at_least(counts: Counter[str], level: RiskLevel) -> int:
    return sum(count for scored, count in counts.items() if RiskLevel(scored).rank >= level.rank)


# ---------------------------------------------------------------------------------------------- report


def _pct(entry: dict[str, Any]) -> str:
    if not entry["n"]:
        return "n/a"
    return (
        f"{entry['rate'] * 100:5.1f}%  (≥ {entry['wilson95_lower'] * 100:5.1f}% at 95%)  {entry['hits']}/{entry['n']}"
    )


def _table(title: str, entries: Iterable[tuple[str, dict[str, Any]]]) -> None:
    print(f"\n{title}")
    for name, entry in entries:
        print(f"  {name:<22} {_pct(entry)}")


def report(results: dict[str, Any]) -> None:
    labelled = results["labelled"]
    print(f"Crisis triage benchmark — {results['rules']} rules")
    print(f"\nLabelled set ({labelled['texts']} texts, tests/triage/labelled.csv; 'none' = share left at none)")
    order = [level.value for level in reversed(LEVELS)]
    _table("Recall by level (scored at or above the label):", ((k, labelled["recall_by_level"][k]) for k in order))
    _table("Exact level:", ((k, labelled["exact_by_level"][k]) for k in order))
    _table("Recall by category:", labelled["recall_by_category"].items())
    _table("Recall by language (concern and above):", labelled["recall_by_language"].items())
    if labelled["high_or_imminent_misses"]:
        print(f"\n  MISSES at high/imminent: {labelled['high_or_imminent_misses']}")

    sad = results.get("sad")
    if sad is None:
        print(f"\nSAD (false escalations): skipped — {results['skipped']['sad']}")
    else:
        print(f"\nSAD stress SMS ({sad['sentences']} everyday-stress sentences, none of them crisis-labelled)")
        print(f"  levels                 {sad['levels']}")
        print(f"  false escalation       {_pct(sad['false_escalation_high_or_imminent'])}   (high or imminent)")
        print(f"  flagged ≥ concern      {_pct(sad['flagged_concern_or_above'])}")
        print(f"  rules behind flags     {sad['rules_behind_flags']}")

    reddit = results.get("reddit")
    if reddit is None:
        print(f"\nReddit C-SSRS: skipped — {results['skipped']['reddit']}")
    else:
        print(f"\nReddit C-SSRS ({reddit['users']} users; the max level over each user's posts)")
        print(f"  {'label':<12}" + "".join(f"{level.value:>10}" for level in LEVELS) + "   ≥ high")
        for label, row in reddit["confusion"].items():
            share = reddit["share_scored_high_or_above_by_label"][label]
            cells = "".join(f"{row[level.value]:>10}" for level in LEVELS)
            print(f"  {label:<12}{cells}   {share['rate'] * 100:5.1f}%")
        print(f"  Ideation/Behavior/Attempt ≥ high: {_pct(reddit['ideation_behavior_attempt_scored_high_or_above'])}")
        print(f"  ({reddit['caveat']})")

    print("\nTime per message (µs)")
    for group, timing in results["timing"].items():
        print(
            f"  {group:<14} median {timing['median_us']:8.1f}   p99 {timing['p99_us']:8.1f}   "
            f"max {timing['max_us']:9.1f}   n={timing['n']}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared folder holding datasets/")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "triage.json")
    args = parser.parse_args(argv)

    rules = default_rules()
    triage("warm up")
    timer = Timer()
    results: dict[str, Any] = {"rules": len(rules.rules), "skipped": {}}
    progress("labelled set")
    results["labelled"] = bench_labelled(timer)

    sad_zip, reddit_csv = args.shared / SAD_ZIP, args.shared / REDDIT_CSV
    if sad_zip.is_file():
        progress("SAD: unzipping and scoring 6,850 sentences")
        results["sad"] = bench_sad(sad_zip, timer)
    else:
        results["skipped"]["sad"] = f"{sad_zip} not found (is ../shared missing?)"
    if reddit_csv.is_file():
        progress("Reddit C-SSRS: scoring every post of 500 users (long texts)")
        results["reddit"] = bench_reddit(reddit_csv, timer)
    else:
        results["skipped"]["reddit"] = f"{reddit_csv} not found (is ../shared missing?)"
    results["timing"] = timer.summary()

    report(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
