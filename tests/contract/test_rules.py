"""Every refusal the fuzzer tolerates (tests/contract/rules.py) is a rule its operation describes."""

from __future__ import annotations

import pytest

from packfinderz.app import create_app
from packfinderz.config import Settings
from tests.contract.rules import DATA_RULES, DOCUMENTED_REFUSALS, Rule

DOCUMENT = create_app(Settings()).openapi()  # building the document needs no database


@pytest.mark.parametrize(("label", "rules"), sorted(DOCUMENTED_REFUSALS.items()))
def test_each_tolerated_refusal_is_described_by_its_operation(label: str, rules: tuple[Rule, ...]) -> None:
    method, path = label.split(" ", 1)
    operation = DOCUMENT["paths"][path][method.lower()]
    description = operation.get("description", "").lower()
    for status, _field, _words, described_as in rules:
        assert str(status) in operation["responses"], f"{label} does not declare {status}"
        assert described_as.lower() in description, f"{label}: the description never says '{described_as}'"


def test_data_rules_name_a_field_some_operation_describes() -> None:
    described = " ".join(
        operation.get("description", "").lower()
        for path in DOCUMENT["paths"].values()
        for operation in path.values()
    )
    for _status, field, _words, described_as in DATA_RULES:
        assert described_as.lower() in described, f"no operation describes the rule on {field}"
