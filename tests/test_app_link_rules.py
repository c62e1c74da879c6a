"""Every widget bound to the URL holds exactly the rule its link is checked against (ui/links.py RULES):
the same bounds, options and max_chars, the workshop's caps included. The source is read for every
``bind="query-params"`` key, and every page is walked until each of those widgets has been drawn,
so a new bound widget without a rule, or one whose bounds drift from its rule, fails here."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

from test_app_helpers import app_model, open_link, warnings_text  # noqa: F401
from ui.links import RULES, WORKSHOP_CAPS, Choice, Number, Text

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted([*(ROOT / "ui").glob("*.py"), *(ROOT / "app_pages").glob("*.py")])
FACT_PROMPT = "Dadon plays"  # a demo fact: the Edit page offers its new objects and edits it
# (page, link) pairs that between them draw every bound widget (a check below says when one is missing).
VISITS = [
    ("app_pages/impair.py", {}),
    ("app_pages/impair.py", {"cluster": "custom units…", "mode": "scale", "pos": "chosen"}),
    ("app_pages/clusters.py", {}),
    ("app_pages/memory.py", {"memory": " Krothux", "mem_pos": "chosen"}),
    ("app_pages/lens.py", {}),
    ("app_pages/lens.py", {"lenses": "no-lenses-here"}),
    ("app_pages/compare.py", {}),
    ("app_pages/compare.py", {"mode": "scale"}),
    ("app_pages/edit.py", {"prompt": "Our friend plays", "edit_method": "low_rank"}),
    ("app_pages/edit.py", {"prompt": "Our friend plays", "edit_method": "interp"}),
    ("app_pages/edit.py", {"prompt": FACT_PROMPT}),
    ("app_pages/edit.py", {"prompt": FACT_PROMPT, "edit_mode": "scale", "edit_cluster": "custom units…"}),
    ("app_pages/patch.py", {}),
    ("app_pages/probe.py", {}),
    ("app_pages/unlearn.py", {}),
]
# The pages whose widgets a workshop caps.
WORKSHOP_VISITS = [("app_pages/impair.py", {}), ("app_pages/clusters.py", {}), ("app_pages/compare.py", {}),
                   ("app_pages/probe.py", {})]


# --- the source: every bound key -------------------------------------------------------------------------

def _is_bound(call: ast.Call) -> bool:
    return any(k.arg == "bind" and isinstance(k.value, ast.Constant) and k.value.value == "query-params"
               for k in call.keywords)


def _name(node: ast.AST) -> str | None:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None


def _constant(node: ast.AST, where: str):
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise AssertionError(f"{where}: a bound widget's key must be readable from the source "
                             f"(a string, a module constant or a parameter given as a string): {ast.unparse(node)}")


def _param_values(func: ast.FunctionDef, name: str, trees: dict[Path, ast.Module]) -> set[str]:
    """Every value parameter ``name`` of ``func`` takes: its default and what each call passes
    (called directly, or handed to a caller such as ``attempt(func, *args)``)."""
    args = func.args
    params = [a.arg for a in args.posonlyargs + args.args]
    defaults = dict(zip(params[len(params) - len(args.defaults):], args.defaults))
    defaults.update((a.arg, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None)
    values = {_constant(defaults[name], func.name)} if name in defaults else set()
    index = params.index(name) if name in params else None
    for path, tree in trees.items():
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            if _name(call.func) == func.name:
                offset = 0
                values.update(_constant(k.value, path.name) for k in call.keywords if k.arg == name)
            else:
                handed = [i for i, a in enumerate(call.args) if _name(a) == func.name]
                if not handed:
                    continue
                offset = handed[0] + 1
            if index is not None and offset + index < len(call.args):
                values.add(_constant(call.args[offset + index], path.name))
    return values


def bound_keys_in_source() -> dict[str, str]:
    """key -> file:line of the widget, for every ``bind="query-params"`` widget in ui/ and app_pages/."""
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in SOURCES}
    out: dict[str, str] = {}
    for path, tree in trees.items():
        constants = {}
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                try:
                    constants[node.targets[0].id] = ast.literal_eval(node.value)
                except ValueError:
                    pass
        functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call) and _is_bound(n)):
            where = f"{path.relative_to(ROOT)}:{call.lineno}"
            expr = next(k.value for k in call.keywords if k.arg == "key")
            owner = min((f for f in functions if f.lineno <= call.lineno <= f.end_lineno),
                        key=lambda f: f.end_lineno - f.lineno, default=None)
            names = sorted({n.id for n in ast.walk(expr) if isinstance(n, ast.Name)})
            choices = []
            for name in names:
                if name in constants:
                    choices.append([constants[name]])
                elif owner is not None and name in [a.arg for a in owner.args.args + owner.args.kwonlyargs]:
                    choices.append(sorted(_param_values(owner, name, trees)))
                else:
                    raise AssertionError(f"{where}: cannot read the key {ast.unparse(expr)} from the source")
            for combo in itertools.product(*choices):
                key = eval(compile(ast.Expression(expr), where, "eval"), {}, dict(zip(names, combo)))  # noqa: S307
                out.setdefault(key, where)
    return out


SOURCE_KEYS = bound_keys_in_source()


def test_every_key_bound_in_the_source_has_a_rule():
    missing = {key: where for key, where in SOURCE_KEYS.items() if key not in RULES}
    assert not missing, f"bound to the URL without a rule in ui/links.py RULES: {missing}"
    assert {"pos_at", "mem_pos_at", "edit_cluster_units", "edit_intensity_noise", "unlearn_budget"} <= set(SOURCE_KEYS)


def test_every_rule_belongs_to_a_bound_widget():
    assert not set(RULES) - set(SOURCE_KEYS), "a rule for a parameter no widget binds"


# --- the pages: every bound widget as drawn ---------------------------------------------------------------

def bound_widgets(at) -> list:
    """Every widget of the page (main area and sidebar) that is bound to the URL."""
    out = []

    def walk(node) -> None:
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            for child in children.values():
                walk(child)
        elif getattr(getattr(node, "proto", None), "query_param_key", ""):
            out.append(node)

    walk(at.main)
    walk(at.sidebar)
    return out


def _whole(widget) -> bool:
    return widget.proto.data_type == type(widget.proto).INT


def check_widget(widget, workshop: bool, page_values: dict[str, object]) -> list[str]:
    """What differs between ``widget`` and the rule of its key (empty when they agree)."""
    key, rule, kind = widget.proto.query_param_key, RULES.get(widget.proto.query_param_key), widget.type
    if rule is None:
        return [f"{key} ({kind}) has no rule"]
    if isinstance(rule, Number):
        hi = min(rule.hi, WORKSHOP_CAPS[key]) if workshop and key in WORKSHOP_CAPS else rule.hi
        if rule.hi_from and rule.hi_from in page_values:
            hi = page_values[rule.hi_from]
        if kind in ("number_input", "slider"):
            fits = widget.max <= hi if rule.narrowed else widget.max == hi
            if widget.min != rule.lo or not fits or _whole(widget) != rule.whole:
                return [f"{key}: {kind} [{widget.min}, {widget.max}] whole={_whole(widget)}; rule {rule}, hi {hi}"]
            return []
        if kind == "selectbox" and rule.whole and rule.narrowed:
            bad = [o for o in widget.options if not (o.isdigit() and rule.lo <= int(o) <= hi)]
            return [f"{key}: options {bad} outside its rule {rule}"] if bad else []
    if isinstance(rule, Choice):
        if kind in ("selectbox", "radio"):
            return [] if tuple(widget.options) == rule.options else [f"{key}: options {widget.options}, rule {rule}"]
        if kind in ("checkbox", "toggle"):
            return [] if rule.options == ("true", "false") else [f"{key}: a {kind} is true or false, rule {rule}"]
    if isinstance(rule, Text):
        if kind in ("text_input", "text_area"):
            fits = widget.max_chars <= rule.max_chars if rule.narrowed else widget.max_chars == rule.max_chars
            return [] if fits and widget.max_chars else [f"{key}: max_chars {widget.max_chars}, rule {rule}"]
        if kind in ("selectbox", "radio", "multiselect", "select_slider"):
            long = [o for o in widget.options if len(o) > rule.max_chars]
            return [f"{key}: options longer than its rule {rule}: {long}"] if long else []
    return [f"{key}: a {kind} cannot hold its rule {rule}"]


def walk_pages(visits, workshop: bool) -> tuple[set[str], list[str]]:
    """(keys of the bound widgets drawn, what differs from the rules) over ``visits``."""
    seen, problems = set(), []
    for page, query in visits:
        at = open_link(page, query)
        assert not at.exception, (page, query, [e.value for e in at.exception])
        widgets = bound_widgets(at)
        values = {w.proto.query_param_key: w.value for w in widgets if w.type == "number_input"}
        for widget in widgets:
            seen.add(widget.proto.query_param_key)
            problems += [f"{page} {query}: {p}" for p in check_widget(widget, workshop, values)]
    return seen, problems


def test_every_bound_widget_on_every_page_holds_its_rule(app_model):
    seen, problems = walk_pages(VISITS, workshop=False)
    assert not problems, "\n".join(problems)
    assert set(SOURCE_KEYS) <= seen, f"never drawn by VISITS (add a visit that draws them): {set(SOURCE_KEYS) - seen}"


def test_in_a_workshop_the_bound_widgets_hold_the_capped_rules(app_model, monkeypatch):
    monkeypatch.setenv("LENSLAB_WORKSHOP", "1")
    seen, problems = walk_pages(WORKSHOP_VISITS, workshop=True)
    assert not problems, "\n".join(problems)
    assert set(WORKSHOP_CAPS) <= seen, set(WORKSHOP_CAPS) - seen


@pytest.mark.parametrize("key, link", [("mode", "negative_noise"), ("metric", "kl")])
def test_an_option_the_rule_allows_is_one_the_widget_takes_from_a_link(app_model, key, link):
    at = open_link("app_pages/impair.py", {key: link})
    assert not at.exception and "ignored" not in warnings_text(at)
    assert at.selectbox(key=key).value == link, "the widget did not take the linked option"
