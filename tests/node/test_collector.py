"""node.collector: the thresholds and the freeze a node process runs with, and the pause meter
behind /metrics's gc_pause_seconds_total."""

from __future__ import annotations

import gc

import pytest

from node import collector


@pytest.fixture
def restored():
    """Put this test process's collector back as it was."""
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)
    gc.unfreeze()
    if collector.METER in gc.callbacks:
        gc.callbacks.remove(collector.METER)


def test_tune_raises_the_thresholds_freezes_start_up_and_meters_its_first_full_pass(restored):
    before = collector.METER.seconds[2]
    full_before = collector.collections()[2]
    collector.tune()
    assert gc.get_threshold() == collector.THRESHOLDS
    assert gc.get_freeze_count() > 0  # what start-up built is no longer walked
    assert collector.collections()[2] == full_before + 1
    assert collector.METER.seconds[2] > before


def test_the_meter_charges_each_pass_to_its_generation(restored):
    meter = collector.PauseMeter()
    gc.callbacks.append(meter)
    try:
        gc.collect(0)
        gc.collect(1)
    finally:
        gc.callbacks.remove(meter)
    assert meter.seconds[0] > 0 and meter.seconds[1] > 0
    assert meter.seconds[2] == 0
