"""Names of the lighting solution: Smart Data Models, the device profiles, TALQ events."""

from __future__ import annotations

from urbis.ingestion.profiles import CABINET, STREETLIGHT
from urbis.solutions.lighting import const, model


def test_entity_types_and_attributes_match_what_the_devices_feed() -> None:
    assert const.LIGHTING_ENTITY_TYPES == ("Streetlight", "StreetlightGroup", "StreetlightControlCabinet")
    assert STREETLIGHT.entity_type == const.STREETLIGHT
    assert CABINET.entity_type == const.STREETLIGHT_CONTROL_CABINET
    lamp_attributes = {m.attribute for m in STREETLIGHT.mapping}
    assert {
        const.POWER_STATE,
        const.ILLUMINANCE_LEVEL,
        const.POWER_CONSUMPTION,
        const.ENERGY_CONSUMED,
    } <= lamp_attributes
    cabinet_attributes = {m.attribute for m in CABINET.mapping}
    assert {const.TOTAL_ACTIVE_POWER, const.VOLTAGE, const.CURRENT, const.ENERGY_CONSUMED} <= cabinet_attributes
    # Every measure names an attribute of its entity type that a device profile maps (except the rating,
    # which is static and comes with the entity).
    mapped = {const.STREETLIGHT: lamp_attributes, const.STREETLIGHT_CONTROL_CABINET: cabinet_attributes}
    for measure in const.MEASURES:
        assert measure.attribute in mapped[measure.entity_type] or measure.attribute == const.POWER_RATING
    assert len({m.key for m in const.MEASURES}) == len(const.MEASURES)


def test_fault_kinds_carry_the_talq_event_names() -> None:
    assert {kind.value for kind in const.FaultKind} == {
        "lampFailure",
        "lampUnexpectedOn",
        "lampPowerTooHigh",
        "lampPowerTooLow",
        "communicationLoss",
        "supplyLoss",
    }
    # A lamp's own faults are what a cabinet's supply loss explains; the supply loss itself is not among them.
    assert const.FaultKind.SUPPLY_LOSS not in const.LAMP_FAULT_KINDS


def test_the_model_exports_exist() -> None:
    missing = [name for name in model.__all__ if not hasattr(model, name)]
    assert missing == []
    assert sorted(model.__all__) == sorted(set(model.__all__))
