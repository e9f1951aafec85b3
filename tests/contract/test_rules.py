"""Every refusal the fuzzer tolerates (tests/contract/rules.py) is a rule its operation describes."""

from __future__ import annotations

import pytest

from packfinderz.app import create_app
from packfinderz.config import Settings
from tests.contract.rules import DOCUMENTED_REFUSALS, Rule

DOCUMENT = create_app(Settings()).openapi()  # building the document needs no database


@pytest.mark.parametrize(("label", "rules"), sorted(DOCUMENTED_REFUSALS.items()))
def test_each_tolerated_refusal_is_described_by_its_operation(label: str, rules: tuple[Rule, ...]) -> None:
    method, path = label.split(" ", 1)
    operation = DOCUMENT["paths"][path][method.lower()]
    description = operation.get("description", "").lower()
    for status, _field, _words, described_as in rules:
        assert str(status) in operation["responses"], f"{label} does not declare {status}"
        assert described_as.lower() in description, f"{label}: the description never says '{described_as}'"
