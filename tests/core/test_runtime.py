"""Garbage-collector tuning of server processes."""

from __future__ import annotations

import gc

from urbis.core.runtime import YOUNG_GENERATION_THRESHOLD, settle_garbage_collector


def test_settling_freezes_start_up_objects_and_spaces_young_collections() -> None:
    before = gc.get_threshold()
    survivor = {"kept": [1, 2, 3]}
    try:
        settle_garbage_collector()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == YOUNG_GENERATION_THRESHOLD
        assert not any(survivor is tracked for tracked in gc.get_objects())  # frozen: out of the collector's sight
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
    assert any(survivor is tracked for tracked in gc.get_objects())
