"""Link parameters: what each one may hold, checked before any widget reads it, and saying
when the app ignores part of a link instead of dropping it without a word.

A link can carry anything: ``k=inf``, ``mode=bogus``, a megabyte of prompt. Every
parameter a widget binds is checked here first (``check_params``, plain Python), in time
and memory that do not grow with the value, and a bad one is dropped with a message that
says what was wrong. ``RULES`` is the one declaration: every bound widget takes its bounds,
options and max_chars from it (``limits``, ``options``, ``chars``), and a test walks every page
to hold each bound widget to its rule.

``guard_query_params`` runs before any widget: it drops the parameters the rules refuse
(so no widget ever parses them) and remembers why; the page shows the reasons at its top.
``note_unavailable`` does the same for choices that depend on the model or the session
(a cluster that exists only in another session).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import streamlit as st
from streamlit.runtime.state.session_state_proxy import get_session_state

from cluster.impair import METRICS
from cluster.units import MAX_TEXT
from compare.layers import COMPARE_SITES
from edit.score import ROBUST_MODES
from edit.spec import METHODS as EDIT_METHODS
from engine.interventions import IMPAIR_MODES, IMPAIR_SITES
from lens.lenses import KINDS
from memory.inject import MEMORY_SOURCES
from patch.compute import DIRECTIONS as PATCH_DIRECTIONS
from patch.compute import METRICS as PATCH_METRICS
from ui.config import PROMPT_URL_CHARS, workshop_mode
from ui.shell import md_escape
from unlearn.methods import METHODS as UNLEARN_METHODS

FIND_METHODS: tuple[str, ...] = ("selectivity", "attribution", "kmeans", "agglomerative")
POSITIONS: tuple[str, ...] = ("all", "last", "chosen")
UNLEARN_TARGETS: tuple[str, ...] = ("this secret", "every secret")
# Whole numbers longer than this are refused before int() is asked to read them.
MAX_DIGITS = 24
NOISE_DEFAULT_MAX = 10.0
# What a workshop's teacher fixes: a link cannot change it.
WORKSHOP_FIXED = {"model": "the model", "lenses": "the lens folder", "model_b": "the second model",
                  "probe_file": "the labelled subjects"}
NOTES_KEY = "_lenslab_url_notes"
# A workshop caps what one attendee's runs may cost, so no one holds the shared CPU.
WORKSHOP_CAPS = {"k": 8, "points": 6, "per_topic": 15, "find_k": 16, "cka_pool": 48, "probe_targets": 4,
                 "probe_others": 200}


@dataclass(frozen=True)
class Number:
    """A finite number in ``[lo, hi]``; ``whole`` for integers; ``hi_from`` names the parameter
    that sets the upper bound when the link gives it (the noise slider's range); ``narrowed``: the
    widget may lower ``hi`` to what the loaded model has (its layers, its units)."""

    lo: float
    hi: float
    whole: bool = False
    hi_from: str | None = None
    narrowed: bool = False


@dataclass(frozen=True)
class Choice:
    """One of ``options``."""

    options: tuple[str, ...]


@dataclass(frozen=True)
class Text:
    """Free text of at most ``max_chars`` characters; ``narrowed``: the widget may allow fewer (what the
    loaded model reads). Also the rule of a widget whose options depend on the model or the session."""

    max_chars: int
    narrowed: bool = False


Rule = Number | Choice | Text

_NOISE = Number(0.0, NOISE_DEFAULT_MAX, hi_from="noise_max")
# Widgets whose options depend on the model or the session (cluster names, token positions, layers and
# heads of the loaded model, demo facts and concepts) have a Text or a loose Number rule here, marked
# "narrowed by the widget"; the widget then offers only what exists.
RULES: dict[str, Rule] = {
    # sidebar
    "model": Text(500), "prompt": Text(PROMPT_URL_CHARS, narrowed=True), "target": Text(200),
    # impair controls and the live panel (Compare reuses them under cka_ keys, Edit under edit_ keys)
    "cluster": Text(200),  # narrowed by the widget: the clusters shipped, found or loaded
    "cluster_units": Text(MAX_TEXT), "cluster_site": Choice(IMPAIR_SITES),
    "mode": Choice(IMPAIR_MODES), "pos": Choice(POSITIONS), "k": Number(1, 64, whole=True),
    "pos_at": Text(400),  # narrowed by the widget: the prompt's token positions
    "seed": Number(0, 1_000_000, whole=True), "noise_max": Number(0.1, 1e38),
    "intensity_noise": _NOISE, "intensity_scale": Number(0.0, 1.0),
    "cka_intensity_noise": _NOISE, "cka_intensity_scale": Number(0.0, 1.0),
    # impairment curves
    "metric": Choice(METRICS), "points": Number(3, 21, whole=True), "per_topic": Number(2, 500, whole=True),
    # clusters page
    "find_method": Choice(FIND_METHODS), "find_percent": Number(0.5, 50.0), "find_k": Number(2, 64, whole=True),
    "find_site": Choice(IMPAIR_SITES),
    # memory page
    "memory": Text(200), "mem_source": Choice(MEMORY_SOURCES), "mem_norm": Choice(("true", "false")),
    "mem_pos": Choice(POSITIONS), "mem_pos_at": Text(400),  # narrowed by the widget: the prompt's token positions
    "mem_layer": Number(0, 10_000, whole=True, narrowed=True),  # narrowed by the widget: the model's layers
    "mem_scale": Number(0.0, 15.0),
    # lens page
    "lenses": Text(1000), "lens_pos": Text(400),  # narrowed by the widget: the prompt's token positions
    "lens_layer": Number(0, 10_000, whole=True, narrowed=True),  # narrowed by the widget: layers with lenses
    "lens_head": Number(0, 10_000, whole=True, narrowed=True),  # narrowed by the widget: the model's heads
    "lens_top": Choice(("true", "false")), "train_kind": Choice(KINDS), "train_steps": Number(1, 20_000, whole=True),
    # compare page
    "cka_site": Choice(COMPARE_SITES), "cka_pool": Number(0, 500, whole=True),
    "cka_set": Text(100),  # narrowed by the widget: the demo's topics
    "model_b": Text(500),
    # edit page
    "edit_new": Text(200),  # narrowed by the widget: the objects the fact's relation takes
    "edit_subject": Text(200), "edit_new_text": Text(200),
    "edit_method": Choice(EDIT_METHODS),
    "edit_layer": Number(0, 10_000, whole=True, narrowed=True),  # narrowed by the widget: the model's layers
    "edit_rank": Number(1, 64, whole=True), "edit_alpha": Number(0.0, 1.0), "edit_mode": Choice(ROBUST_MODES),
    "edit_cluster": Text(200), "edit_cluster_units": Text(MAX_TEXT), "edit_cluster_site": Choice(IMPAIR_SITES),
    "edit_intensity_noise": Number(0.0, NOISE_DEFAULT_MAX), "edit_intensity_scale": Number(0.0, 1.0),
    # patch page
    "patch_clean": Text(500), "patch_corrupted": Text(500), "patch_answer": Text(200), "patch_bad_answer": Text(200),
    "patch_metric": Choice(PATCH_METRICS), "patch_dir": Choice(PATCH_DIRECTIONS),
    # probes page
    "probe_file": Text(500),
    "probe_concept": Text(200),  # narrowed by the widget: the concepts of the file
    "probe_targets": Number(1, 64, whole=True),
    "probe_others": Number(0, 5000, whole=True), "probe_k": Number(1, 100, whole=True),
    # unlearn page
    "unlearn_secret": Text(300),  # narrowed by the widget: the model's planted secrets
    "unlearn_forget": Choice(UNLEARN_TARGETS), "unlearn_method": Choice(UNLEARN_METHODS),
    "unlearn_budget": Number(1, 100_000_000, whole=True, narrowed=True),  # narrowed by the widget: the model's units
}


def _short(value: str, n: int = 40) -> str:
    return repr(value if len(value) <= n else value[:n] + "…")


def _number(key: str, value: str, rule: Number, params: Mapping[str, str]) -> str | None:
    hi = rule.hi
    if rule.hi_from and rule.hi_from in params and check_param(rule.hi_from, params[rule.hi_from], params) is None:
        hi = float(params[rule.hi_from])
    kind = "a whole number" if rule.whole else "a number"
    span = f"{rule.lo:g} to {hi:g}"
    text = value.strip()
    if len(text) > MAX_DIGITS:
        return f"{key}={_short(value)} is not {kind} from {span}"
    try:
        x = float(text)
    except ValueError:
        return f"{key}={_short(value)} is not {kind}; give {kind} from {span}"
    if not math.isfinite(x):
        return f"{key}={_short(value)} is not a finite number; give {kind} from {span}"
    if rule.whole and not x.is_integer():
        return f"{key}={_short(value)} is not a whole number; give one from {span}"
    if not rule.lo <= x <= hi:
        return f"{key}={_short(value)} is outside {span}"
    return None


def check_param(key: str, value: str, params: Mapping[str, str]) -> str | None:
    """Why URL parameter ``key=value`` cannot be used (None when it can); ``params`` is the whole link."""
    rule = RULES.get(key)
    if isinstance(rule, Number):
        return _number(key, value, rule, params)
    if isinstance(rule, Choice) and value not in rule.options:
        return f"{key}={_short(value)} is not one of {', '.join(rule.options)}"
    if isinstance(rule, Text) and len(value) > rule.max_chars:
        return f"{key} has {len(value):,} characters; at most {rule.max_chars:,} fit"
    return None


def check_params(params: Mapping[str, str], workshop: bool = False) -> dict[str, str]:
    """key -> why it was dropped, for every parameter of the link that cannot be used
    (in a workshop, also those that would change what the teacher fixed)."""
    out = {}
    for key, value in params.items():
        if workshop and key in WORKSHOP_FIXED:
            out[key] = f"{key}={_short(value)} cannot be set by a link: this workshop fixes {WORKSHOP_FIXED[key]}"
            continue
        why = check_param(key, value, params)
        if why is None and workshop and key in WORKSHOP_CAPS and float(value) > WORKSHOP_CAPS[key]:
            why = f"{key}={_short(value)} is more than this workshop allows (at most {WORKSHOP_CAPS[key]})"
        if why is not None:
            out[key] = why
    return out


def limits(key: str, hi: float | None = None) -> tuple[float, float]:
    """``(lo, hi)`` of the widget bound to Number ``key``: its rule's bounds (ints for a whole rule), the
    workshop's cap applied in a workshop. ``hi``: for a ``hi_from`` rule, the value of that widget (the
    bound a link is checked against); otherwise what the loaded model has (n_layers - 1), which can only
    lower the rule's bound, and only of a rule ``narrowed`` says so."""
    rule = RULES[key]
    if not isinstance(rule, Number):
        raise TypeError(f"{key} is not a number parameter")
    top = rule.hi
    if key in WORKSHOP_CAPS and workshop_mode():
        top = min(top, WORKSHOP_CAPS[key])
    if hi is not None and rule.hi_from:
        top = hi
    elif hi is not None:
        if not rule.narrowed:
            raise ValueError(f"{key}'s rule has a fixed upper bound: mark it narrowed to let the model lower it")
        top = min(top, hi)
    return (int(rule.lo), int(top)) if rule.whole else (rule.lo, top)


def options(key: str) -> tuple[str, ...]:
    """The options of the widget bound to Choice ``key`` (what its link may hold)."""
    rule = RULES[key]
    if not isinstance(rule, Choice):
        raise TypeError(f"{key} is not a choice parameter")
    return rule.options


def chars(key: str, hi: int | None = None) -> int:
    """max_chars of the text widget bound to ``key``; ``hi`` (what the loaded model reads) can only lower
    it, and only of a rule ``narrowed`` says so."""
    rule = RULES[key]
    if not isinstance(rule, Text):
        raise TypeError(f"{key} is not a text parameter")
    if hi is None:
        return rule.max_chars
    if not rule.narrowed:
        raise ValueError(f"{key}'s rule has a fixed length: mark it narrowed to let the model lower it")
    return min(rule.max_chars, hi)


def _drop(key: str) -> None:
    """Remove ``key`` from the link and from the values widgets are seeded with.

    Streamlit seeds bound widgets from the link as first opened, which st.query_params
    cannot edit; this is the one place that reaches into that (streamlit is pinned).
    """
    with get_session_state().query_params() as qp:
        qp.remove_param(key)
        qp._initial_query_params.pop(key, None)  # noqa: SLF001


def guard_query_params() -> None:
    """Drop every URL parameter that cannot be used and keep a note of why for ``show_url_notes``."""
    params = st.query_params.to_dict()
    notes = st.session_state.setdefault(NOTES_KEY, [])
    for key, why in check_params(params, workshop=workshop_mode()).items():
        _drop(key)
        notes.append(f"{why}; it was ignored.")


def note_unavailable(key: str, options: list[str], what: str, hint: str) -> None:
    """If the link asks ``key`` for a value not among ``options``, say it is not available (before the widget)."""
    wanted = st.query_params.get(key)
    if wanted is not None and wanted not in options:
        _drop(key)
        st.warning(md_escape(f"The link asks for {what} {wanted[:60]!r}, which is not available here ({hint}); "
                             "choose one from the list."), icon=":material/link_off:")


def show_url_notes() -> None:
    """Show, once, what was ignored from the link (at the top of the page)."""
    notes = st.session_state.pop(NOTES_KEY, [])
    if notes:
        st.warning(md_escape("Part of the link was ignored: " + " ".join(notes)), icon=":material/link_off:")
