"""Train the learned second stage of crisis triage and write shared/peerline/triage/model/triage-model.bin.

    make train-triage      (or: .venv/bin/python tools/train_triage.py [--out DIR])

Two logistic-regression heads over the hashed features of ``peerline.triage.model.features`` (the very function the
Lambda runs): ``escalate`` learns level ≥ high, ``flag`` level ≥ concern. Training data: the regression set, the
extra development texts (when present), crisis-dev-2026's dev part and SAD's train part (everyday stress, all
``none``). Each head's threshold comes from out-of-fold scores of a stratified k-fold cross-validation, computed with
the quantised weights exactly as the shipped model computes them, and is the lowest one that keeps ordinary texts
quiet (the targets below). The holdout parts of crisis-dev-2026 and SAD are only scored and reported, never used.

Reproducible: fixed seeds, a deterministic solver, int8 weights; two runs write byte-identical files. Only aggregate
figures are printed and written to training-report.json — never a text.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import scipy.sparse as sp
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shared"))

import triage_data as data

from peerline.risk import rank as risk_rank
from peerline.triage import model as triage_model
from peerline.triage.normalize import normalize

ROOT = Path(__file__).resolve().parents[1]
MODEL_DIR = ROOT / "shared" / "peerline" / "triage" / "model"
MODEL_FILE = "triage-model.bin"
REPORT_FILE = "training-report.json"

# Out-of-fold false-alarm ceilings that pick each head's threshold (the lowest threshold meeting both; the flag
# ceilings count texts raised by either head):
# "none" = level-none texts of the labelled sets (hard negatives: denials, idioms, dosage talk, past history);
# "sad"  = SAD's everyday-stress SMS (train part), the bulk of what the line will see.
ESCALATE_MAX_NONE = 0.02  # ≤ 2 % of hard negatives would page the on-call professional
ESCALATE_MAX_SAD = 0.003  # ≤ 0.3 % of everyday texts would page the on-call professional
FLAG_MAX_NONE = 0.05  # ≤ 5 % of hard negatives would be raised to concern
FLAG_MAX_SAD = 0.02  # ≤ 2 % of everyday texts would be raised to concern
THRESHOLD_STEP = 1e-4  # thresholds are rounded up to this grid, so they read well and never move by a hair

FOLDS = 5
SEED = 20260401
# L2 strength (scikit-learn's C, larger = weaker) and the weight of each SAD text relative to a labelled one:
# SAD outnumbers the crisis texts ~4:1, so unweighted it would teach mostly "stress is ordinary".
C = 1.0
SAD_WEIGHT = 0.3
# liblinear penalises the intercept like any weight; a constant feature of 10 makes that penalty negligible.
INTERCEPT_SCALING = 10.0
# The int8 scale is this quantile of |weights| / 127 (the few larger weights are clipped to ±127): a scale set by
# the single largest weight would round most weights to 0.
SCALE_QUANTILE = 0.9999


def progress(message: str) -> None:
    print(f"… {message}", flush=True)


@dataclass
class Corpus:
    texts: list[str]
    ranks: np.ndarray  # 0 none … 3 imminent
    sources: list[str]  # regression, dev_extra, crisis_dev, sad

    @property
    def is_sad(self) -> np.ndarray:
        return np.array([source == "sad" for source in self.sources])


def training_corpus() -> tuple[Corpus, dict[str, Any]]:
    """The training texts, deduplicated on their normalised form (a text labelled twice keeps its higher level)."""
    sources: list[tuple[str, Callable[[], Iterable[data.Example]]]] = [
        ("regression", data.regression),
        ("dev_extra", data.dev_extra),
        ("crisis_dev", lambda: data.crisis_dev("dev")),
        ("sad", lambda: data.sad("train")),
    ]
    seen: dict[str, int] = {}
    texts: list[str] = []
    ranks: list[int] = []
    names: list[str] = []
    counts: dict[str, dict[str, int]] = {}
    duplicates = 0
    for name, load in sources:
        levels: Counter[str] = Counter()
        for example in load():
            levels[example.level] += 1
            key = normalize(example.text)
            rank = risk_rank(example.level)
            if key in seen:
                duplicates += 1
                ranks[seen[key]] = max(ranks[seen[key]], rank)
                continue
            seen[key] = len(texts)
            texts.append(example.text)
            ranks.append(rank)
            names.append(name)
        counts[name] = {level: levels[level] for level in data.LEVELS if levels[level]}
        progress(f"loaded {name}: {sum(levels.values())} texts {dict(counts[name])}")
    progress(f"{len(texts)} distinct texts ({duplicates} duplicates merged)")
    return Corpus(texts, np.array(ranks), names), {"by_source": counts, "distinct": len(texts), "merged": duplicates}


def feature_matrix(texts: list[str]) -> sp.csr_matrix:
    """The binary bucket matrix: one row per text, 1 where the text has a feature hashed to that bucket."""
    indptr = [0]
    indices: list[int] = []
    for text in texts:
        indices.extend(triage_model.buckets(text))
        indptr.append(len(indices))
    return sp.csr_matrix(
        (np.ones(len(indices)), np.array(indices, dtype=np.int64), np.array(indptr, dtype=np.int64)),
        shape=(len(texts), triage_model.BUCKETS),
    )


@dataclass
class QuantisedHead:
    weights: np.ndarray  # int8
    scale: float
    bias: float

    def probabilities(self, binary: sp.csr_matrix) -> np.ndarray:
        # The shipped model's arithmetic: integer sum of int8 weights, then logit() — same expression, same floats.
        totals = np.asarray(binary.astype(np.int64) @ self.weights.astype(np.int64)).ravel()
        z = triage_model.logit(self.bias, self.scale, totals)  # type: ignore[arg-type]
        return np.asarray(1.0 / (1.0 + np.exp(-z)))


def fit_head(binary: sp.csr_matrix, target: np.ndarray, weights: np.ndarray) -> QuantisedHead:
    """One logistic head, fitted deterministically (liblinear's trust-region Newton) and quantised to int8."""
    classifier = LogisticRegression(
        C=C, solver="liblinear", intercept_scaling=INTERCEPT_SCALING, tol=1e-6, max_iter=1000, random_state=SEED
    )
    classifier.fit(binary, target, sample_weight=weights)
    coefficients = classifier.coef_.ravel()
    reference = float(np.quantile(np.abs(coefficients[coefficients != 0]), SCALE_QUANTILE))
    # A float32-representable scale, so the value read back from the file is the one training used.
    scale = float(np.float32(reference / 127.0))
    quantised = np.clip(np.rint(coefficients / scale), -127, 127).astype(np.int8)
    return QuantisedHead(quantised, scale, float(np.float32(classifier.intercept_[0])))


def lowest_threshold(scores_by_group: list[tuple[np.ndarray, float]]) -> float:
    """The lowest threshold on the THRESHOLD_STEP grid at which each group's share of scores ≥ it stays ≤ its max."""
    floor = 0.0
    for scores, ceiling in scores_by_group:
        allowed = int(np.floor(ceiling * len(scores) + 1e-9))
        ordered = np.sort(scores)[::-1]
        if allowed < len(ordered):
            floor = max(floor, float(ordered[allowed]))
    threshold = (np.floor(floor / THRESHOLD_STEP) + 1) * THRESHOLD_STEP
    for scores, ceiling in scores_by_group:  # the grid point above every offending score meets each ceiling
        assert np.mean(scores >= threshold) <= ceiling + 1e-12
    return round(float(min(threshold, 1.0)), 4)


def rate(hits: np.ndarray) -> dict[str, Any]:
    n = int(hits.size)
    return {"n": n, "hits": int(hits.sum()), "rate": round(float(hits.mean()), 4) if n else None}


def operating_figures(
    ranks: np.ndarray, is_sad: np.ndarray, escalate: np.ndarray, flag: np.ndarray, thresholds: tuple[float, float]
) -> dict[str, Any]:
    """Recall per level and false alarms at the thresholds (a text is raised when either head passes)."""
    escalated = escalate >= thresholds[0]
    raised = escalated | (flag >= thresholds[1])
    labelled_none = (ranks == 0) & ~is_sad
    return {
        "escalate_recall": {
            "imminent": rate(escalated[ranks == 3]),
            "high": rate(escalated[ranks == 2]),
        },
        "raise_recall": {
            "imminent": rate(raised[ranks == 3]),
            "high": rate(raised[ranks == 2]),
            "concern": rate(raised[ranks == 1]),
        },
        "false_escalation": {
            "none": rate(escalated[labelled_none]),
            "sad": rate(escalated[is_sad]),
            "concern": rate(escalated[ranks == 1]),
        },
        "false_raise": {"none": rate(raised[labelled_none]), "sad": rate(raised[is_sad])},
    }


def print_figures(title: str, figures: dict[str, Any]) -> None:
    def show(entry: dict[str, Any]) -> str:
        return f"{entry['hits']}/{entry['n']} = {entry['rate']:.1%}" if entry["n"] else "–"

    print(title)
    for group, entries in figures.items():
        print(f"    {group:17s} " + "  ".join(f"{name} {show(entry)}" for name, entry in entries.items()))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODEL_DIR, help="folder for the model and its report")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    corpus, data_counts = training_corpus()
    progress("computing features")
    binary = feature_matrix(corpus.texts)
    is_sad = corpus.is_sad
    sample_weight = np.where(is_sad, SAD_WEIGHT, 1.0)
    targets = {"escalate": (corpus.ranks >= 2).astype(int), "flag": (corpus.ranks >= 1).astype(int)}

    # Strata: level × (SAD or labelled), so every fold holds its share of each level and of everyday texts.
    strata = corpus.ranks + 4 * is_sad
    folds = list(StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED).split(binary, strata))
    out_of_fold = {head: np.zeros(len(corpus.texts)) for head in targets}
    for number, (train, test) in enumerate(folds, start=1):
        for head, target in targets.items():
            fitted = fit_head(binary[train], target[train], sample_weight[train])
            out_of_fold[head][test] = fitted.probabilities(binary[test])
        progress(f"cross-validation fold {number}/{FOLDS} done")

    labelled_none = (corpus.ranks == 0) & ~is_sad
    escalate_threshold = lowest_threshold(
        [
            (out_of_fold["escalate"][labelled_none], ESCALATE_MAX_NONE),
            (out_of_fold["escalate"][is_sad], ESCALATE_MAX_SAD),
        ]
    )
    # A text is raised to concern when either head passes, so the flag ceilings hold for both heads together:
    # texts the escalate head already raises count against them whatever their flag score.
    raised_by_flag = np.where(out_of_fold["escalate"] >= escalate_threshold, np.inf, out_of_fold["flag"])
    flag_threshold = lowest_threshold(
        [(raised_by_flag[labelled_none], FLAG_MAX_NONE), (raised_by_flag[is_sad], FLAG_MAX_SAD)]
    )
    thresholds = (escalate_threshold, flag_threshold)
    progress(f"thresholds: escalate {escalate_threshold}, flag {flag_threshold}")
    cv = operating_figures(corpus.ranks, is_sad, out_of_fold["escalate"], out_of_fold["flag"], thresholds)
    crisis_only = np.array([source == "crisis_dev" for source in corpus.sources])
    cv_crisis_dev = operating_figures(
        corpus.ranks[crisis_only],
        is_sad[crisis_only],
        out_of_fold["escalate"][crisis_only],
        out_of_fold["flag"][crisis_only],
        thresholds,
    )

    progress("fitting both heads on all training texts")
    final = {head: fit_head(binary, target, sample_weight) for head, target in targets.items()}
    blob = triage_model.pack(
        (final["escalate"].weights.tobytes(), final["escalate"].scale, final["escalate"].bias, escalate_threshold),
        (final["flag"].weights.tobytes(), final["flag"].scale, final["flag"].bias, flag_threshold),
    )
    args.out.mkdir(parents=True, exist_ok=True)
    model_path = args.out / MODEL_FILE
    model_path.write_bytes(blob)
    progress(f"wrote {model_path} ({len(blob):,} bytes)")

    progress("checking the plain-Python model against training's arithmetic")
    shipped = triage_model.load_model(model_path)
    assert shipped is not None
    expected = {head: final[head].probabilities(binary) for head in targets}
    worst = 0.0
    for index, text in enumerate(corpus.texts):
        scores = shipped.scores(text)
        worst = max(
            worst, abs(scores.escalate - expected["escalate"][index]), abs(scores.flag - expected["flag"][index])
        )
    assert worst < 1e-9, f"plain-Python scores differ from training's by {worst}"

    progress("scoring the holdouts (report only)")
    holdout = [*data.crisis_dev("holdout"), *data.sad("holdout")]
    holdout_ranks = np.array([risk_rank(example.level) for example in holdout])
    holdout_sad = np.array([example.category == "sad" for example in holdout])
    holdout_scores = [shipped.scores(example.text) for example in holdout]
    holdout_figures = operating_figures(
        holdout_ranks,
        holdout_sad,
        np.array([s.escalate for s in holdout_scores]),
        np.array([s.flag for s in holdout_scores]),
        thresholds,
    )

    print_figures("cross-validation, out of fold (all training texts):", cv)
    print_figures("cross-validation, out of fold (crisis-dev-2026 dev part only):", cv_crisis_dev)
    print_figures("holdouts (crisis-dev-2026 holdout, SAD holdout; never trained or tuned on):", holdout_figures)

    report = {
        "model": {
            "file": MODEL_FILE,
            "bytes": len(blob),
            "sha256": sha256(model_path),
            "buckets": triage_model.BUCKETS,
            "feature_version": triage_model.FEATURE_VERSION,
            "format_version": triage_model.FORMAT_VERSION,
            "nonzero_weights": {head: int(np.count_nonzero(final[head].weights)) for head in targets},
        },
        "training": {
            "C": C,
            "sad_weight": SAD_WEIGHT,
            "folds": FOLDS,
            "seed": SEED,
            "scale_quantile": SCALE_QUANTILE,
            "solver": "liblinear",
            "intercept_scaling": INTERCEPT_SCALING,
        },
        "data": data_counts,
        "inputs_sha256": {
            name: sha256(path)
            for name, path in (
                ("regression", data.REGRESSION_CSV),
                *((path.stem, path) for path in data.dev_extra_files()),
                ("crisis_dev", data.shared_path(data.CRISIS_DEV_TSV)),
                ("sad", data.shared_path(data.SAD_ZIP)),
            )
            if path.is_file()
        },
        "targets": {
            "escalate": {"max_none": ESCALATE_MAX_NONE, "max_sad": ESCALATE_MAX_SAD},
            "flag": {"max_none": FLAG_MAX_NONE, "max_sad": FLAG_MAX_SAD},
        },
        "thresholds": {"escalate": escalate_threshold, "flag": flag_threshold},
        "cross_validation": cv,
        "cross_validation_crisis_dev_only": cv_crisis_dev,
        "holdout": holdout_figures,
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__,
        },
    }
    report_path = args.out / REPORT_FILE
    report_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    progress(f"wrote {report_path}; sha256 {report['model']['sha256']} ({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
