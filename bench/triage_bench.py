"""Crisis triage benchmark: the frozen test sets apart from everything tuned on, the data sets, speed, cold load.

    make bench-triage            (or: .venv/bin/python bench/triage_bench.py [--shared DIR] [--out FILE] [--quick])

What it reports, and what each figure is worth:
- **Frozen test sets** (tests/triage/frozen/set-*.tsv): written from a brief by sessions that never saw the rules,
  before the frame rules and the model; nobody reads them while tuning and the model never trains on them. The only
  estimate of how triage does on the next texter. Only aggregates are printed — never a text or a per-text miss.
- **crisis-dev-2026, held-out fifth** (by a hash of the text): written independently of the rules, never tuned or
  trained on — a second honest estimate.
- **Tuned-on sets** (regression set, dev-extra, crisis-dev's development part): the rules were written against them
  and the model trained on them; a regression floor, not an estimate.
- **SAD** everyday-stress SMS: false escalations. The model trains on the even-hash half, so the odd half is the
  honest figure; the whole set is printed too.
- **Reddit C-SSRS** (long posts, user-level labels): a secondary graded check.
- Time per text (µs) and the cold load of triage (fresh interpreters; rules, frames and model).

The data sets stay in ../shared/datasets (their licences forbid copying them here); they are read at run time and
only aggregate figures are printed and written to bench/results/triage.json — never a text from them.
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import triage_data as data  # noqa: E402

from peerline.triage import RiskLevel, TriageResult, default_rules, highest, triage  # noqa: E402
from peerline.triage.scorer import default_frames, default_model  # noqa: E402

FROZEN_DIR = ROOT / "tests" / "triage" / "frozen"
REDDIT_CSV = Path("datasets/reddit-cssrs-gaur2019/500_Reddit_users_posts_labels.csv")
LEVELS = [RiskLevel.NONE, RiskLevel.CONCERN, RiskLevel.HIGH, RiskLevel.IMMINENT]
CSSRS = ["Supportive", "Indicator", "Ideation", "Behavior", "Attempt"]
Z95 = 1.959963984540054

# Issue 9's targets: measured here, never asserted in a timed test.
TARGETS = {
    "imminent_escalated": 0.97,  # imminent texts scored high or imminent
    "concern_flagged": 0.95,  # concern texts scored concern or above
    "ordinary_escalated": 0.03,  # none texts scored high or imminent, at most
    "sad_escalated": 0.005,  # SAD sentences scored high or imminent, at most
    "per_text_ms": 1.0,
    "cold_load_ms": 50.0,
}


def wilson_lower(successes: int, total: int, z: float = Z95) -> float:
    """Lower bound of the Wilson score interval (95% by default) for a proportion."""
    if total == 0:
        return 0.0
    p = successes / total
    centre = p + z * z / (2 * total)
    spread = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return (centre - spread) / (1 + z * z / total)


def wilson_upper(successes: int, total: int, z: float = Z95) -> float:
    """Upper bound of the Wilson interval: for rates that should be small (false alarms)."""
    return 1.0 - wilson_lower(total - successes, total, z) if total else 1.0


def proportion(successes: int, total: int) -> dict[str, Any]:
    return {
        "n": total,
        "hits": successes,
        "rate": round(successes / total, 4) if total else None,
        "wilson95_lower": round(wilson_lower(successes, total), 4),
        "wilson95_upper": round(wilson_upper(successes, total), 4),
    }


def progress(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


class Timer:
    """Scores texts with the full triage (rules, frames, model) and keeps the time each one took (µs), per group."""

    def __init__(self) -> None:
        self.micros: dict[str, list[float]] = defaultdict(list)

    def score(self, text: str, group: str) -> TriageResult:
        started = time.perf_counter_ns()
        result = triage(text)
        self.micros[group].append((time.perf_counter_ns() - started) / 1000)
        return result

    def summary(self) -> dict[str, Any]:
        sms = [t for group, times in self.micros.items() if group != "reddit_post" for t in times]
        groups = {**self.micros, "sms": sms, "all": [t for times in self.micros.values() for t in times]}
        return {group: _timing(times) for group, times in groups.items() if times}


def _timing(times: list[float]) -> dict[str, Any]:
    ordered = sorted(times)
    return {
        "n": len(ordered),
        "median_us": round(statistics.median(ordered), 1),
        "p99_us": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1),
        "max_us": round(ordered[-1], 1),
    }


# ---------------------------------------------------------------------------------------------- labelled sets


def frozen_sets() -> dict[str, list[data.Example]]:
    """The frozen test sets, read here only (tools/train_triage.py never loads them)."""
    return {path.stem: list(data.read_tsv(path)) for path in sorted(FROZEN_DIR.glob("set-*.tsv"))}


def caught(expected: str, level: RiskLevel) -> bool:
    """What counts as a hit for a text of ``expected`` level: escalated for high/imminent, flagged for concern,
    not escalated for none."""
    if expected in ("imminent", "high"):
        return level.rank >= RiskLevel.HIGH.rank
    if expected == "concern":
        return level.rank >= RiskLevel.CONCERN.rank
    return level.rank < RiskLevel.HIGH.rank


def evaluate(examples: Iterable[data.Example], score: Callable[[str], TriageResult]) -> dict[str, Any]:
    per_level: dict[str, list[bool]] = defaultdict(list)
    flagged_none: list[bool] = []
    exact: dict[str, list[bool]] = defaultdict(list)
    per_category: dict[str, list[bool]] = defaultdict(list)
    per_language: dict[str, list[bool]] = defaultdict(list)
    raised_by_model = 0
    total = 0
    for example in examples:
        total += 1
        result = score(example.text)
        hit = caught(example.level, result.level)
        per_level[example.level].append(hit)
        exact[example.level].append(result.level.value == example.level)
        if example.level == "none":
            flagged_none.append(result.level is not RiskLevel.NONE)
        else:
            per_language[example.language].append(hit)
        for category in filter(None, example.category.split(";")):
            per_category[f"{example.level}/{category}"].append(hit)
        raised_by_model += result.model is not None
    none = per_level.get("none", [])
    return {
        "texts": total,
        # imminent/high: escalated (high or imminent); concern: flagged (concern or above); none: see below
        "caught_by_level": {level: proportion(sum(v), len(v)) for level, v in per_level.items() if level != "none"},
        "none_escalated": proportion(len(none) - sum(none), len(none)),
        "none_flagged": proportion(sum(flagged_none), len(flagged_none)),
        "exact_by_level": {level: proportion(sum(v), len(v)) for level, v in exact.items()},
        "caught_by_category": {c: proportion(sum(v), len(v)) for c, v in sorted(per_category.items())},
        "caught_by_language": {lang: proportion(sum(v), len(v)) for lang, v in sorted(per_language.items())},
        "raised_by_model": raised_by_model,
    }


def _rules_only(text: str) -> TriageResult:
    return triage(text, use_model=False)


# ---------------------------------------------------------------------------------------------- SAD


def bench_sad(timer: Timer) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for part in ("holdout", "train"):
        levels: Counter[str] = Counter()
        rules: Counter[str] = Counter()
        total = 0
        for example in data.sad(part):  # type: ignore[arg-type]
            total += 1
            result = timer.score(example.text, "sad")
            levels[result.level] += 1
            if result.level.rank >= RiskLevel.HIGH.rank:
                rules.update(result.rules)
        escalated = levels[RiskLevel.HIGH] + levels[RiskLevel.IMMINENT]
        results[part] = {
            "sentences": total,
            "levels": {level.value: levels[level] for level in LEVELS},
            "escalated": proportion(escalated, total),
            "flagged": proportion(escalated + levels[RiskLevel.CONCERN], total),
            "rules_behind_escalations": dict(rules.most_common(12)),
        }
        progress(f"SAD {part}: {total} sentences scored")
    both = [results["holdout"], results["train"]]
    escalated = sum(part["escalated"]["hits"] for part in both)
    total = sum(part["sentences"] for part in both)
    results["all"] = {"sentences": total, "escalated": proportion(escalated, total)}
    return results


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


# ---------------------------------------------------------------------------------------------- cold load

_COLD = """
# What every handler has imported before triage: pydantic with a model defined (Powertools' parser, the domain
# models), json, logging and hashlib (Powertools' logger and idempotency). Triage is timed from there.
import hashlib, json, logging, time, pydantic
class Warm(pydantic.BaseModel):
    x: int = 0
started = time.perf_counter()
from peerline.triage.scorer import default_frames, default_model, default_rules
default_rules(); default_frames(); default_model()
print((time.perf_counter() - started) * 1000)
"""


def bench_cold_load(runs: int) -> dict[str, Any]:
    """Import ``peerline.triage`` and load rules, frames and model in fresh interpreters (pydantic already loaded)."""
    times = []
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    for _ in range(runs):
        output = subprocess.run([sys.executable, "-c", _COLD], capture_output=True, text=True, check=True, env=env)
        times.append(float(output.stdout.strip()))
    return {"runs": runs, "median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)}


# ---------------------------------------------------------------------------------------------- report


def _pct(entry: dict[str, Any], *, small: bool = False) -> str:
    if not entry["n"]:
        return "n/a"
    bound = f"≤ {entry['wilson95_upper'] * 100:5.1f}%" if small else f"≥ {entry['wilson95_lower'] * 100:5.1f}%"
    return f"{entry['rate'] * 100:5.1f}%  ({bound} at 95%)  {entry['hits']}/{entry['n']}"


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report_set(title: str, result: dict[str, Any], rules_only: dict[str, Any] | None = None) -> None:
    print(f"\n{title} — {result['texts']} texts")
    names = {"imminent": "imminent escalated", "high": "high escalated", "concern": "concern flagged"}
    for level in ("imminent", "high", "concern"):
        if level in result["caught_by_level"]:
            line = f"  {names[level]:<22} {_pct(result['caught_by_level'][level])}"
            if rules_only is not None:
                line += f"   [rules alone {rules_only['caught_by_level'][level]['rate'] * 100:5.1f}%]"
            print(line)
    if result["none_escalated"]["n"]:
        line = f"  {'ordinary escalated':<22} {_pct(result['none_escalated'], small=True)}"
        if rules_only is not None:
            line += f"   [rules alone {rules_only['none_escalated']['rate'] * 100:5.1f}%]"
        print(line)
        print(f"  {'ordinary flagged':<22} {_pct(result['none_flagged'], small=True)}")
    languages = ", ".join(
        f"{lang} {entry['rate'] * 100:.1f}% (≥ {entry['wilson95_lower'] * 100:.1f}%, n={entry['n']})"
        for lang, entry in result["caught_by_language"].items()
    )
    print(f"  by language (crisis levels): {languages}")
    print(f"  raised by the model: {result['raised_by_model']} texts")


def report_categories(result: dict[str, Any]) -> None:
    for name, entry in result["caught_by_category"].items():
        if not name.startswith("none/"):
            print(f"    {name:<34} {_pct(entry)}")


def report(results: dict[str, Any]) -> None:
    print(f"Crisis triage benchmark — {results['rules']} phrase rules, {results['frames']} frames, model: {results['model']}")
    print("\n=== Frozen test sets (never read while tuning, never trained on): the estimate for the next texter ===")
    for name, result in results["frozen"].items():
        report_set(f"Frozen {name}", result, results["frozen_rules_only"][name])
    combined = results["frozen_combined"]
    report_set("Frozen sets together", combined, results["frozen_combined_rules_only"])
    print("  recall per level and category (frozen sets together):")
    report_categories(combined)
    if "crisis_dev_holdout" in results:
        report_set(
            "crisis-dev-2026 held-out fifth (independent, never tuned or trained on)",
            results["crisis_dev_holdout"],
            results["crisis_dev_holdout_rules_only"],
        )

    print("\n=== Tuned-on sets: a regression floor, not an estimate ===")
    for name in ("regression", "dev_extra", "crisis_dev_dev"):
        if name in results["tuned"]:
            report_set(name, results["tuned"][name])

    sad = results.get("sad")
    if sad is None:
        print(f"\nSAD: skipped — {results['skipped'].get('sad')}")
    else:
        print("\nSAD everyday-stress SMS (none of them crisis-labelled)")
        print(f"  held-out half (model never trained on it): escalated {_pct(sad['holdout']['escalated'], small=True)}")
        print(f"    flagged ≥ concern {_pct(sad['holdout']['flagged'], small=True)}")
        print(f"    rules behind escalations {sad['holdout']['rules_behind_escalations']}")
        print(f"  training half: escalated {_pct(sad['train']['escalated'], small=True)}")
        print(f"  all: escalated {_pct(sad['all']['escalated'], small=True)}")

    reddit = results.get("reddit")
    if reddit is None:
        print(f"\nReddit C-SSRS: skipped — {results['skipped'].get('reddit')}")
    else:
        print(f"\nReddit C-SSRS ({reddit['users']} users; the max level over each user's posts)")
        print(f"  {'label':<12}" + "".join(f"{level.value:>10}" for level in LEVELS) + "   ≥ high")
        for label, row in reddit["confusion"].items():
            share = reddit["share_scored_high_or_above_by_label"][label]
            cells = "".join(f"{row[level.value]:>10}" for level in LEVELS)
            print(f"  {label:<12}{cells}   {share['rate'] * 100:5.1f}%")
        print(f"  Ideation/Behavior/Attempt ≥ high: {_pct(reddit['ideation_behavior_attempt_scored_high_or_above'])}")
        print(f"  ({reddit['caveat']})")

    print("\nTime per message (µs; rules, frames and model)")
    for group, timing in results["timing"].items():
        print(
            f"  {group:<14} median {timing['median_us']:8.1f}   p99 {timing['p99_us']:8.1f}   "
            f"max {timing['max_us']:9.1f}   n={timing['n']}"
        )
    cold = results["cold_load"]
    print(f"\nCold load (import + rules + frames + model, fresh interpreter, pydantic already imported): "
          f"median {cold['median_ms']} ms, max {cold['max_ms']} ms over {cold['runs']} runs")

    print("\nTargets (issue 9), on the frozen sets together:")
    for name, (value, ok) in results["verdicts"].items():
        print(f"  {name:<28} {value:<28} {_verdict(ok)}")


def report_tuning(results: dict[str, Any]) -> None:
    print("Tuning run: frozen sets left out.")
    if "crisis_dev_holdout" in results:
        report_set("crisis-dev-2026 held-out fifth", results["crisis_dev_holdout"], results["crisis_dev_holdout_rules_only"])
    for name, result in results["tuned"].items():
        report_set(name, result)
    if "sad" in results:
        print(f"\nSAD held-out half escalated {_pct(results['sad']['holdout']['escalated'], small=True)}")
        print(f"  rules behind escalations {results['sad']['holdout']['rules_behind_escalations']}")
    print(f"\nper text: {results['timing']['sms']}; cold load {results['cold_load']}")


def verdicts(results: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    combined = results["frozen_combined"]
    imminent = combined["caught_by_level"]["imminent"]["rate"]
    concern = combined["caught_by_level"]["concern"]["rate"]
    ordinary = combined["none_escalated"]["rate"]
    out = {
        "imminent escalated ≥ 0.97": (f"{imminent:.3f}", imminent >= TARGETS["imminent_escalated"]),
        "concern flagged ≥ 0.95": (f"{concern:.3f}", concern >= TARGETS["concern_flagged"]),
        "ordinary escalated ≤ 3%": (f"{ordinary * 100:.1f}%", ordinary <= TARGETS["ordinary_escalated"]),
    }
    if "sad" in results:
        sad = results["sad"]["holdout"]["escalated"]["rate"]
        out["SAD (held-out) esc. ≤ 0.5%"] = (f"{sad * 100:.2f}%", sad <= TARGETS["sad_escalated"])
    p99 = results["timing"]["sms"]["p99_us"] / 1000
    median = results["timing"]["sms"]["median_us"] / 1000
    out["≤ 1 ms per text"] = (f"median {median:.3f} ms, p99 {p99:.3f} ms", p99 <= TARGETS["per_text_ms"])
    cold = results["cold_load"]["median_ms"]
    out["cold load ≤ 50 ms"] = (f"{cold} ms", cold <= TARGETS["cold_load_ms"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=None, help="the shared folder holding datasets/")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "triage.json")
    parser.add_argument("--quick", action="store_true", help="skip Reddit C-SSRS (long posts, the slowest part)")
    parser.add_argument("--cold-runs", type=int, default=10)
    parser.add_argument(
        "--tuning",
        action="store_true",
        help="while tuning rules: leave the frozen sets out (no figure from them), print nothing to results/",
    )
    args = parser.parse_args(argv)
    if args.shared is not None:
        os.environ[data.SHARED_DIR_ENV] = str(args.shared)

    model = default_model()
    triage("warm up")
    timer = Timer()
    results: dict[str, Any] = {
        "rules": len(default_rules().rules),
        "frames": len(default_frames().frames),
        "model": "absent" if model is None else "present",
        "skipped": {},
    }

    frozen = {} if args.tuning else frozen_sets()
    if not args.tuning:
        progress("frozen test sets (aggregates only)")
    results["frozen"] = {name: evaluate(rows, lambda t: timer.score(t, "frozen")) for name, rows in frozen.items()}
    results["frozen_rules_only"] = {name: evaluate(rows, _rules_only) for name, rows in frozen.items()}
    everything = [row for rows in frozen.values() for row in rows]
    results["frozen_combined"] = evaluate(everything, triage)
    results["frozen_combined_rules_only"] = evaluate(everything, _rules_only)

    tuned: dict[str, Any] = {}
    tuned["regression"] = evaluate(data.regression(), lambda t: timer.score(t, "labelled"))
    tuned["dev_extra"] = evaluate(data.dev_extra(), lambda t: timer.score(t, "labelled"))
    try:
        holdout = list(data.crisis_dev("holdout"))
        results["crisis_dev_holdout"] = evaluate(holdout, lambda t: timer.score(t, "labelled"))
        results["crisis_dev_holdout_rules_only"] = evaluate(holdout, _rules_only)
        tuned["crisis_dev_dev"] = evaluate(data.crisis_dev("dev"), lambda t: timer.score(t, "labelled"))
    except data.DatasetMissingError as error:
        results["skipped"]["crisis_dev"] = str(error)
    results["tuned"] = tuned

    try:
        progress("SAD: unzipping and scoring 6,850 sentences")
        results["sad"] = bench_sad(timer)
    except data.DatasetMissingError as error:
        results["skipped"]["sad"] = str(error)
    reddit_csv = data.shared_dir() / REDDIT_CSV
    if args.quick:
        results["skipped"]["reddit"] = "--quick"
    elif reddit_csv.is_file():
        progress("Reddit C-SSRS: scoring every post of 500 users (long texts)")
        results["reddit"] = bench_reddit(reddit_csv, timer)
    else:
        results["skipped"]["reddit"] = f"{reddit_csv} not found (is ../shared missing?)"
    results["timing"] = timer.summary()
    progress(f"cold load: {args.cold_runs} fresh interpreters")
    results["cold_load"] = bench_cold_load(args.cold_runs)
    if args.tuning:
        report_tuning(results)
        return 0
    results["verdicts"] = verdicts(results)

    report(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
