"""Pin maps are checked before a single relay moves, naming the entry that is wrong."""

from __future__ import annotations

import copy

import pytest

from gate_node.pin_map import DEFAULT_PIN_MAPS, PinMapError, parse_pin_map


@pytest.mark.parametrize("kind", ["tripod", "wing", "swing"])
def test_reference_wirings_are_valid(kind):
    parsed_kind, specs = parse_pin_map(DEFAULT_PIN_MAPS[kind])
    assert parsed_kind == kind and specs["fire_loop"].gpio == 21


def _broken(change):
    doc = copy.deepcopy(DEFAULT_PIN_MAPS["tripod"])
    change(doc)
    return doc


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d["pins"].pop("fire_loop"), "needs pins for: fire_loop"),
        (lambda d: d["pins"].update(flux={"gpio": 4}), "no part named: flux"),
        (lambda d: d["pins"]["red"].update(gpio=17), "GPIO 17 is used by both"),
        (lambda d: d["pins"]["red"].update(gpio=40), "BCM number"),
        (lambda d: d["pins"]["red"].update(active_low="yes"), "true or false"),
        (lambda d: d["pins"]["red"].update(pull="up"), "only inputs"),
        (lambda d: d["pins"]["rotation_in"].update(pull="up"), "active low"),
        (lambda d: d.update(kind="revolving"), "kind must be"),
    ],
)
def test_bad_pin_maps_are_refused_naming_the_entry(change, words):
    with pytest.raises(PinMapError, match=words):
        parse_pin_map(_broken(change))
