"""Four-eyes rules (separation of duties), as data: who did an earlier step may not do a later one.

Each rule names the earlier trigger, the later one, and the words of its refusal. The guard
`workflows.guards.four_eyes` reads this table and the case's history (which account did
which step: `Fact.acts`); `case actions` shows its refusals like any other reason. The
accounts compared are usernames, the role they acted in does not matter: an officer who
holds two roles is still one pair of eyes.
"""

from __future__ import annotations

from dataclasses import dataclass

from workflows.names import Trigger


@dataclass(frozen=True)
class FourEyes:
    earlier: Trigger
    later: Trigger
    did: str  # what the earlier account did, after its name
    must: str  # what another officer must do

    def sentence(self, account: str) -> str:
        return f"Four-eyes rule: {account} {self.did}; another officer must {self.must}."


RULES: tuple[FourEyes, ...] = (
    FourEyes(Trigger.shortlist, Trigger.allot_quota, "shortlisted this case", "allot its quota"),
    FourEyes(Trigger.pay_fee, Trigger.issue_evisa, "recorded the fee payment", "issue the e-Visa"),
    FourEyes(Trigger.shortlist, Trigger.refuse, "shortlisted this case", "refuse it"),
)

# The earlier steps whose accounts a decision needs, by later trigger.
EARLIER: dict[Trigger, frozenset[Trigger]] = {}
for _rule in RULES:
    EARLIER[_rule.later] = EARLIER.get(_rule.later, frozenset()) | {_rule.earlier}
WATCHED: frozenset[str] = frozenset(r.earlier.value for r in RULES)


def refusals(trigger: Trigger, actor: str, acts: dict[str, frozenset[str]]) -> list[str]:
    """The sentences of every rule that ``actor`` doing ``trigger`` would break."""
    return [
        rule.sentence(actor)
        for rule in RULES
        if rule.later == trigger and actor in acts.get(rule.earlier.value, frozenset())
    ]
