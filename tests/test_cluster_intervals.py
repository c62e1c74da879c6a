"""The specificity interval resamples entities (or phrases), so few groups give the wide interval they deserve."""

from __future__ import annotations

import numpy as np
import pytest

from cluster import ClusterError
from cluster.curves import specificity_interval


def _case(n_groups: int, per_group: int, flipped: int):
    """Topic 0: ``n_groups`` groups of ``per_group`` prompts, ``flipped`` groups fully flipped; topic 1: none."""
    drop = np.r_[np.repeat([1.0] * flipped + [0.0] * (n_groups - flipped), per_group), np.zeros(30)]
    topic = np.r_[np.zeros(n_groups * per_group, int), np.ones(30, int)]
    groups = [f"g{i // per_group}" for i in range(n_groups * per_group)] + [f"h{i}" for i in range(30)]
    return drop, topic, groups


def test_one_phrase_of_three_cannot_pin_a_share_down():
    """Toxic on the demo: 3 held-out phrases of 8 prompts, one flipped: a point estimate of 0.33, no lower bound."""
    lo, hi = specificity_interval(*_case(3, 8, 1), topic=0)
    assert lo <= 0.0 and hi >= 0.6
    assert not lo >= 0.3  # a check of "every lower bound >= 0.3" prints False here


def test_many_groups_give_a_tight_interval_around_the_estimate():
    drop, topic, groups = _case(45, 2, 30)
    lo, hi = specificity_interval(drop, topic, groups, topic=0)
    assert lo < 30 / 45 < hi and hi - lo < 0.35 and lo > 0.4


def test_resampling_groups_is_wider_than_resampling_prompts():
    drop, topic, groups = _case(6, 8, 2)
    by_group = np.subtract(*specificity_interval(drop, topic, groups, topic=0)[::-1])
    by_prompt = np.subtract(*specificity_interval(drop, topic, [str(i) for i in range(len(drop))], topic=0)[::-1])
    assert by_group > 1.5 * by_prompt


def test_bad_input_is_refused():
    drop, topic, groups = _case(3, 2, 1)
    with pytest.raises(ClusterError, match="one drop, topic and group per prompt"):
        specificity_interval(drop[:-1], topic, groups, topic=0)
    with pytest.raises(ClusterError, match="at least one other topic"):
        specificity_interval(drop[:6], topic[:6], groups[:6], topic=0)
