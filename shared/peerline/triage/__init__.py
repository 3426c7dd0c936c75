"""Crisis triage: score each inbound text ``none`` / ``concern`` / ``high`` / ``imminent`` (see CRISIS.md).

    >>> from peerline.triage import triage, highest
    >>> triage("i took 30 pills an hour ago").level
    <RiskLevel.IMMINENT: 'imminent'>

Rules are TOML data in ``rules/``; operators add their own with ``PEERLINE_TRIAGE_RULES_DIR``.
"""

from peerline.triage.models import RiskLevel, TriageResult, highest, rank
from peerline.triage.ruleset import RULES_DIR_ENV, Rule, RuleSet, TriageRulesError, load_rules
from peerline.triage.scorer import default_rules, triage

__all__ = [
    "RULES_DIR_ENV",
    "RiskLevel",
    "Rule",
    "RuleSet",
    "TriageResult",
    "TriageRulesError",
    "default_rules",
    "highest",
    "load_rules",
    "rank",
    "triage",
]
