"""QMAS eligibility rules: the profile contract, dated rule sets, points tests, fees, quotas
and excluded nationalities. Pure and deterministic: no database, no I/O, no clock.

Imports only the standard library, pydantic, `states.errors` and the leaf modules
`workflows.clock`, `workflows.countries`, `workflows.formats` and `workflows.validation`.
"""

from workflows.rules.assessment import Assessment, assess
from workflows.rules.family import Dependant
from workflows.rules.fees import (
    FeeSchedule,
    application_fee_at,
    fee_due_at,
    fee_schedule_at,
    lodging_moment,
)
from workflows.rules.nationalities import country_name, excluded_nationalities
from workflows.rules.profile import Profile, validate_profile
from workflows.rules.quotas import annual_quota
from workflows.rules.rulesets import RULESETS, RuleSet, ruleset_by_id, ruleset_for

__all__ = [
    "RULESETS",
    "Assessment",
    "Dependant",
    "FeeSchedule",
    "Profile",
    "RuleSet",
    "annual_quota",
    "application_fee_at",
    "assess",
    "country_name",
    "excluded_nationalities",
    "fee_due_at",
    "fee_schedule_at",
    "lodging_moment",
    "ruleset_by_id",
    "ruleset_for",
    "validate_profile",
]
