"""CC BY 4.0, ODbL 1.0 and CC0 1.0 as ODRL: what each permits and which duties it brings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from urbis.core.errors import NotFound
from urbis.marketplace.policies import (
    CC0_1_0,
    CC_BY_4_0,
    LICENCES,
    ODBL_1_0,
    ActionType,
    DutyState,
    Licence,
    PolicyType,
    RequestContext,
    evaluate,
    licence,
    licence_offer,
    parse_policy,
    policy_to_jsonld,
)

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def ask(action: ActionType = ActionType.READ, **overrides: object) -> RequestContext:
    values: dict[str, object] = {"party": "urn:company:1", "action": action, "target": "urn:ds:lights", "now": NOW}
    values.update(overrides)
    return RequestContext(**values)  # type: ignore[arg-type]


def offer(item: Licence) -> object:
    return licence_offer(
        item, uid="urn:offer:lights", target="urn:ds:lights", assigner="urn:city", attribution="© City of Urbis"
    )


def test_cc_by_permits_every_use_against_attribution_and_notice() -> None:
    decision = evaluate(offer(CC_BY_4_0), ask(ActionType.COMMERCIALIZE))  # type: ignore[arg-type]
    assert decision.permitted
    assert [(d.action, d.state) for d in decision.duties] == [
        (ActionType.ATTRIBUTE, DutyState.PENDING),
        (ActionType.CC_NOTICE, DutyState.PENDING),
    ]
    attribution = decision.duties[0]
    assert (attribution.text, attribution.attributed_party) == ("© City of Urbis", "urn:city")
    assert decision.licence == "https://creativecommons.org/licenses/by/4.0/"


def test_odbl_adds_share_alike() -> None:
    decision = evaluate(offer(ODBL_1_0), ask(ActionType.DERIVE))  # type: ignore[arg-type]
    assert decision.permitted
    assert [d.action for d in decision.duties] == [
        ActionType.ATTRIBUTE,
        ActionType.CC_NOTICE,
        ActionType.CC_SHARE_ALIKE,
    ]
    assert decision.licence == "https://opendatacommons.org/licenses/odbl/1-0/"


def test_cc0_asks_nothing() -> None:
    decision = evaluate(offer(CC0_1_0), ask(ActionType.DISTRIBUTE))  # type: ignore[arg-type]
    assert decision.permitted
    assert decision.duties == ()


@pytest.mark.parametrize("item", [CC_BY_4_0, ODBL_1_0, CC0_1_0], ids=lambda item: item.spdx)
def test_no_licence_transfers_ownership(item: Licence) -> None:
    assert not evaluate(item.policy, ask(ActionType.SELL)).permitted


def test_a_violated_attribution_ends_the_permission() -> None:
    decision = evaluate(offer(CC_BY_4_0), ask(violated_duties=frozenset({"attribute"})))  # type: ignore[arg-type]
    assert not decision.permitted


@pytest.mark.parametrize("item", [CC_BY_4_0, ODBL_1_0, CC0_1_0], ids=lambda item: item.spdx)
def test_licences_round_trip_through_json_ld(item: Licence) -> None:
    assert parse_policy(policy_to_jsonld(item.policy)) == item.policy
    licensed = offer(item)
    assert parse_policy(policy_to_jsonld(licensed)) == licensed  # type: ignore[arg-type]


def test_the_offer_is_an_offer_by_the_city_for_the_dataset() -> None:
    licensed = licence_offer(CC_BY_4_0, uid="urn:offer:1", target="urn:ds:1", assigner="urn:city")
    assert licensed.type is PolicyType.OFFER
    assert licensed.permissions[0].target is not None and licensed.permissions[0].target.uid == "urn:ds:1"
    assert licensed.permissions[0].duties[0].description == "Credit the licensor as they ask."


def test_lookup() -> None:
    assert set(LICENCES) == {"CC-BY-4.0", "ODbL-1.0", "CC0-1.0"}
    assert licence("ODbL-1.0") is ODBL_1_0
    assert licence("https://creativecommons.org/publicdomain/zero/1.0") is CC0_1_0
    with pytest.raises(NotFound, match="CC-BY-NC"):
        licence("CC-BY-NC-4.0")
