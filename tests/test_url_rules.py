"""Every URL parameter that sizes work is checked before use: bounded, finite, and refused with a reason."""

from __future__ import annotations

import pytest

from cluster.errors import ClusterError
from cluster.spec import cluster_from_address, units_address
from cluster.units import MAX_UNITS, format_units, parse_units
from ui.links import RULES, WORKSHOP_CAPS, Choice, Number, Text, chars, check_param, check_params, limits, options

NUMBERS = sorted(k for k, r in RULES.items() if isinstance(r, Number))
BAD_NUMBERS = ["1e300", "-1", "-1e300", "inf", "-inf", "nan", "NaN", "Infinity", "9" * 400, "twelve", ""]


@pytest.mark.parametrize("key", NUMBERS)
@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_huge_negative_inf_and_nan_numbers_are_refused_with_the_range(key, value):
    why = check_param(key, value, {key: value})
    assert why is not None, f"{key}={value!r} was accepted"
    assert why.startswith(f"{key}=") and " to " in why, why
    assert len(why) < 200, "the message quotes a long value whole"


@pytest.mark.parametrize("key", NUMBERS)
def test_each_numeric_parameter_takes_its_own_bounds(key):
    rule = RULES[key]
    lo = int(rule.lo) if rule.whole else rule.lo
    assert check_param(key, str(lo), {}) is None
    assert check_param(key, str(rule.lo - 1), {}) is not None


def test_whole_numbers_refuse_fractions_and_inf_says_finite():
    assert "whole" in check_param("k", "2.5", {})
    assert "finite" in check_param("seed", "inf", {})


def test_the_noise_intensity_follows_the_linked_slider_range():
    assert check_param("intensity_noise", "1e9", {"intensity_noise": "1e9"}) is not None
    assert check_param("intensity_noise", "1e9", {"intensity_noise": "1e9", "noise_max": "1e10"}) is None
    assert check_param("intensity_noise", "1e9", {"intensity_noise": "1e9", "noise_max": "inf"}) is not None


def test_choices_and_long_texts_are_refused():
    choices = [k for k, r in RULES.items() if isinstance(r, Choice)]
    assert {"mode", "pos", "cluster_site", "metric"} <= set(choices)
    for key in choices:
        assert check_param(key, "bogus", {}) is not None
        assert check_param(key, RULES[key].options[0], {}) is None
    for key in (k for k, r in RULES.items() if isinstance(r, Text)):
        huge = "x" * (RULES[key].max_chars + 1)
        assert "characters" in check_param(key, huge, {})


def test_a_whole_link_reports_only_its_bad_parts_and_workshop_keys():
    link = {"mode": "bogus", "k": "inf", "seed": "3", "lenses": "/etc", "unknown": "kept"}
    assert set(check_params(link)) == {"mode", "k"}
    assert set(check_params(link, workshop=True)) == {"mode", "k", "lenses"}
    assert "fixes the lens folder" in check_params(link, workshop=True)["lenses"]


def test_widgets_take_their_bounds_from_the_rules_with_the_workshop_caps(monkeypatch):
    monkeypatch.delenv("LENSLAB_WORKSHOP", raising=False)
    assert limits("k") == (1, 64) and all(isinstance(x, int) for x in limits("k"))
    assert limits("mem_scale") == (0.0, 15.0)
    assert options("mode") == RULES["mode"].options and chars("target") == RULES["target"].max_chars
    monkeypatch.setenv("LENSLAB_WORKSHOP", "1")
    for key, most in WORKSHOP_CAPS.items():
        assert limits(key)[1] == most
        assert check_params({key: str(most)}, workshop=True) == {}
        assert key in check_params({key: str(most + 1)}, workshop=True)


def test_the_model_can_only_lower_a_bound_that_its_rule_lets_it_narrow():
    assert limits("edit_layer", hi=3) == (0, 3)
    assert limits("edit_layer", hi=10**9) == (0, RULES["edit_layer"].hi)
    assert chars("prompt", 50) == 50 and chars("prompt", 10**9) == RULES["prompt"].max_chars
    assert limits("intensity_noise", hi=1e6) == (0.0, 1e6), "the noise slider's range follows noise_max"
    with pytest.raises(ValueError):
        limits("k", hi=3)
    with pytest.raises(ValueError):
        chars("target", 10)
    with pytest.raises(TypeError):
        options("k")


@pytest.mark.parametrize("text", ["3:0-3000000", "3:0-300000000000000000000000", "3:-5", "-1:0", "3:inf",
                                  "3:nan", "3:0-" + "9" * 5000, "1:0-10," * 10_000,
                                  ",".join(f"{i}:0-99" for i in range(MAX_UNITS // 100 + 1))])
def test_unit_lists_that_would_allocate_too_much_are_refused(text):
    with pytest.raises(ClusterError):
        parse_units(text)


def test_unit_lists_round_trip_through_a_cluster_address():
    neurons = parse_units("2:0-31, 3:7, 0:5-6, 3:8")
    assert format_units(neurons) == "0:5-6,2:0-31,3:7-8"
    cluster = cluster_from_address("units:" + format_units(neurons) + "@mlp_out")
    assert cluster.neurons == tuple(sorted(neurons)) and cluster.site == "mlp_out"
    assert cluster_from_address(units_address(cluster)) == cluster
    with pytest.raises(ClusterError, match="site"):
        cluster_from_address("units:1:0@nowhere")
