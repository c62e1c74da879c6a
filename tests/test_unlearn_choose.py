"""Choosing a setting on validation rows, and the bench's claim: computed from the rows, never assumed."""

from __future__ import annotations

from unlearn.sweep import choose, keeps_facts, meets_claim


def row(budget: int, mem: int, facts: int, ppl: float, steps: int = 0) -> dict:
    return dict(budget=budget, steps=steps, memorized_k_after=mem, memorized_n_after=16, memorized_k_before=8,
                memorized_n_before=16, facts_k_before=100, facts_n_before=100, facts_k_after=facts, facts_n_after=100,
                perplexity_before=2.0, perplexity_after=ppl)


def test_the_chosen_setting_forgets_most_among_those_that_keep_the_facts():
    rows = [row(32, 6, 100, 2.01), row(128, 1, 99, 2.05), row(512, 0, 80, 2.5)]
    chosen, kept = choose(rows)
    assert kept and chosen["budget"] == 128
    assert not keeps_facts(rows[2]) and keeps_facts(rows[1])


def test_ties_go_to_the_smaller_budget_and_no_kept_setting_takes_the_least_damage():
    assert choose([row(128, 0, 100, 2.0), row(32, 0, 100, 2.0)])[0]["budget"] == 32
    chosen, kept = choose([row(32, 0, 90, 2.0), row(128, 0, 70, 2.0)])
    assert not kept and chosen["budget"] == 32


def test_the_claim_needs_forgetting_kept_facts_and_a_win_over_random_of_the_same_size():
    good, control = row(128, 0, 99, 2.05), row(128, 7, 100, 2.0)
    assert meets_claim(good, control)
    assert not meets_claim(good, row(128, 0, 100, 2.0))  # random forgot as much: no win
    assert not meets_claim(row(128, 1, 99, 2.05), control)  # 1/16 > 5%
    assert not meets_claim(row(128, 0, 94, 2.05), control)  # facts below 95% of before
    assert not meets_claim(row(128, 0, 99, 2.2), control)  # perplexity up 10%
    assert not meets_claim(good, None)
