"""Unlearning planted secrets on the demo model: which method forgets them and keeps the facts?

Secrets are split within each copy count into a validation half and a report half (alternate
secrets in file order). Each method's budget (units; a mask: as many single weights) or steps
(fine-tuning) is chosen on the validation half by ``unlearn.sweep.choose``; the chosen setting then
unlearns the report half, where every figure below is measured, next to random units (random
single weights for the mask) of the same size. Shares carry 95% Wilson intervals.

    python bench/unlearn.py [--budgets 32,128,512] [--tune-steps 10,30] [--limit N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import Engine, LensLabError  # noqa: E402
from memory.evaluate import wilson  # noqa: E402
from promptsets.paths import DEMO_DIR  # noqa: E402
from unlearn.data import load_world, split_secrets  # noqa: E402
from unlearn.scores import evaluate, robustness, union_cluster  # noqa: E402
from unlearn.methods import UnlearnSpec, unlearn  # noqa: E402
from unlearn.sweep import FACTS_KEPT, FORGOTTEN, PPL_RISE, choose, facts_ratio, meets_claim, ppl_rise, sweep  # noqa: E402

LOCALIZING = ("attribution", "activation", "gradient", "mask")
CONTROL = {"attribution": "random", "activation": "random", "gradient": "random", "mask": "random-mask"}


def cell(row: dict, name: str, when: str) -> str:
    k, n = int(row[f"{name}_k_{when}"]), int(row[f"{name}_n_{when}"])
    lo, hi = wilson(k, n)
    return f"{k / n:.2f} [{lo:.2f},{hi:.2f}]" if n else "n/a"


def copies_cell(row: dict, when: str) -> str:
    ks, ns = row[f"copies_k_{when}"].split(";"), row["copies_n"].split(";")
    return " ".join(f"{k}/{n}" for k, n in zip(ks, ns))


def table(rows: list[tuple[str, dict]]) -> str:
    head = (f"{'method':30} {'size':>7} {'memorized after':>17} {'by copies ' + rows[0][1]['copies']:>22} "
            f"{'backdoor after':>17} {'1-hop after':>17} {'two-hop after':>17} {'ppl change':>10}")
    lines = [head]
    for label, r in rows:
        size = f"{int(r['n_weights']):,}"
        lines.append(f"{label:30} {size:>7} {cell(r, 'memorized', 'after'):>17} {copies_cell(r, 'after'):>22} "
                     f"{cell(r, 'backdoor', 'after'):>17} {cell(r, 'facts', 'after'):>17} "
                     f"{cell(r, 'two_hop', 'after'):>17} {ppl_rise(r):>+10.2%}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(DEMO_DIR))
    ap.add_argument("--budgets", default="32,128,512", help="unit budgets tried on the validation half")
    ap.add_argument("--tune-steps", default="10,30", help="fine-tuning steps tried on the validation half")
    ap.add_argument("--limit", type=int, default=None, help="prompts of each surviving set (default: all)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clusters", default=None, help="topic clusters for the robustness curves (default MODEL/clusters)")
    ap.add_argument("--intensities", default="0,0.5,1,1.5,2", help="noise intensities of the robustness curves")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.time()
    engine = Engine.load(args.model)
    world = load_world(args.model)
    halves = split_secrets(world.secrets)
    if not halves["report"]:
        sys.exit("the report half is empty: the bench needs at least two secrets of some copy count")
    budgets = [int(b) for b in args.budgets.split(",")]
    steps = [int(s) for s in args.tune_steps.split(",")]
    print(f"model {args.model}: {engine.spec.n_layers} layers x {engine.spec.d_mlp} units; "
          f"{len(world.secrets)} secrets, {len(halves['validation'])} validation / {len(halves['report'])} report "
          f"(alternate secrets of each copy count); clean text: {world.clean.source}")
    print(f"budgets chosen on the validation half among {budgets} units (mask: x{engine.spec.d_model} weights), "
          f"fine-tuning steps among {steps}; every figure below is on the report half")
    val_before = evaluate(engine, world, halves["validation"], (), args.limit)
    chosen: dict[str, UnlearnSpec] = {}
    for method in (*LOCALIZING, "finetune"):
        specs = ([UnlearnSpec(method, b) for b in budgets] if method != "finetune"
                 else [UnlearnSpec(method, budgets[0], steps=s) for s in steps])
        rows = sweep(engine, world, halves["validation"], specs, args.limit, before=val_before)
        row, kept = choose(rows)
        chosen[method] = UnlearnSpec(method, int(row["budget"]), int(row["steps"]))
        print(f"  validation {method:11}: chose budget {row['budget']}, steps {row['steps'] or 'default'} "
              f"(memorized {cell(row, 'memorized', 'after')}, 1-hop kept {facts_ratio(row):.1%}, "
              f"ppl {ppl_rise(row):+.2%}{'' if kept else '; no setting kept the facts'})")
    rep_before = evaluate(engine, world, halves["report"], (), args.limit)
    specs = list(chosen.values()) + [UnlearnSpec(CONTROL[m], chosen[m].budget) for m in LOCALIZING]
    unique = list(dict.fromkeys(specs))
    rows = dict(zip(unique, sweep(engine, world, halves["report"], unique, args.limit, before=rep_before)))
    base = next(iter(rows.values()))
    print()
    print(f"report half, before: memorized {cell(base, 'memorized', 'before')} (by copies {base['copies']}: "
          f"{copies_cell(base, 'before')}), backdoor {cell(base, 'backdoor', 'before')}, 1-hop "
          f"{cell(base, 'facts', 'before')}, two-hop {cell(base, 'two_hop', 'before')}, held-out perplexity "
          f"{float(base['perplexity_before']):.3f}")
    listed = [(m if m != "finetune" else "finetune (all layers)", rows[chosen[m]]) for m in (*LOCALIZING, "finetune")]
    listed += [(f"{CONTROL[m]} (size of {m})", rows[UnlearnSpec(CONTROL[m], chosen[m].budget)]) for m in LOCALIZING]
    print("size: W_out weights removed (localizers, controls) or changed (fine-tuning); shares [95% Wilson]; "
          "ppl change: held-out perplexity after / before - 1")
    print(table(listed))
    winners = [m for m in LOCALIZING
               if meets_claim(rows[chosen[m]], rows[UnlearnSpec(CONTROL[m], chosen[m].budget)])]
    print()
    print(f"claim: at least one method takes memorized secrets to <= {FORGOTTEN:.0%} while 1-hop facts stay >= "
          f"{FACTS_KEPT:.0%} (of before) and held-out perplexity rises <= {PPL_RISE:.0%}, and beats random "
          f"of the same size: {bool(winners)}" + (f" ({', '.join(winners)})" if winners else ""))
    curves(engine, world, halves["report"], rows, chosen, winners, args)
    print(f"({time.time() - t0:.0f} s)")


def curves(engine, world, report, rows, chosen, winners, args) -> None:
    """Robustness of the best method (the claim winner that removes fewest weights, else the mask) on the report
    secrets memorized before."""
    from unlearn.scores import extract

    method = min(winners, key=lambda m: int(rows[chosen[m]]["n_weights"])) if winners else "mask"
    folder = args.clusters or str(Path(args.model) / "clusters")
    try:
        topics = union_cluster(folder, engine)
    except (LensLabError, OSError) as err:  # no clusters, or made for another model: say so, skip the curves
        print(f"robustness curves skipped: {err}")
        return
    memorized = [s for s in report if extract(engine, s).memorized]
    result = unlearn(engine, world, report, chosen[method])
    intensities = [float(x) for x in args.intensities.split(",")]
    c = robustness(engine, memorized, result.deltas, topics, intensities)
    print()
    print(f"does it come back? {method} on the report half: share of its {len(memorized)} memorized secrets "
          f"extractable under noise (2 seeds; {topics.detail}, {len(topics.neurons)} units)")
    print(f"{'':34}" + " ".join(f"{x:>5g}" for x in c.intensities))
    for model, by_condition in c.share.items():
        for condition, values in by_condition.items():
            print(f"  {model:9} {condition:22}" + " ".join(f"{v:5.2f}" for v in values))


if __name__ == "__main__":
    main()
