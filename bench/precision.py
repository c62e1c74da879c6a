"""How much lower precision changes the numbers: float32 against bfloat16 (or float16) on the demo.

Runs every prompt of the demo's prompt sets clean, and once more with a noise impairment
of a shipped cluster, in float32 and in the lower dtype on the same device, and prints the
largest absolute logit difference, the largest difference in the answer's probability and
how often the top-1 token agrees.

    python bench/precision.py [--model DIR] [--dtype bfloat16] [--device cpu]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cluster.impair import impairs  # noqa: E402
from cluster.inputs import answer_token  # noqa: E402
from cluster.spec import load_cluster  # noqa: E402
from engine import Engine  # noqa: E402
from promptsets.paths import DEMO_DIR, DEMO_PROMPTS  # noqa: E402
from promptsets.schema import load_fact_prompts, load_keyword_prompts  # noqa: E402


def compare(ref: Engine, low: Engine, prompts: list[tuple[str, str]], interventions=()) -> tuple[float, float, float]:
    """(max abs logit difference, max abs answer-probability difference, top-1 agreement) over ``prompts``."""
    worst_logit = worst_prob = 0.0
    agree = 0
    for prompt, answer in prompts:
        a, b = ref.run(prompt, interventions).logits[0], low.run(prompt, interventions).logits[0]
        token = answer_token(ref, answer, prompt)
        worst_logit = max(worst_logit, float((a - b).abs().max()))
        worst_prob = max(worst_prob, float((a.softmax(-1)[token] - b.softmax(-1)[token]).abs()))
        agree += int(a.argmax() == b.argmax())
    return worst_logit, worst_prob, agree / len(prompts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEMO_DIR))
    parser.add_argument("--prompts", default=str(DEMO_PROMPTS))
    parser.add_argument("--cluster", default=str(DEMO_DIR / "clusters" / "athlete.json"))
    parser.add_argument("--dtype", default="bfloat16", choices=("bfloat16", "float16"))
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(1)
    ref = Engine.load(args.model, device=args.device)
    low = Engine.load(args.model, device=args.device, dtype=args.dtype)
    folder = Path(args.prompts)
    prompts = [(p.prompt, p.answer) for p in load_keyword_prompts(folder)]
    prompts += [(p.prompt, p.answer) for p in load_fact_prompts(folder)]
    noise = impairs(load_cluster(args.cluster, ref), "noise", 1.0, seed=0)
    print(f"{args.model}: float32 against {args.dtype} on {args.device}, {len(prompts)} prompts")
    print(f"{'run':<22}{'max |dlogit|':>14}{'max |dp(answer)|':>18}{'top-1 agreement':>17}")
    for name, ivs in (("clean", ()), ("noise 1.0 (athlete)", noise)):
        logit, prob, agree = compare(ref, low, prompts, ivs)
        print(f"{name:<22}{logit:>14.4f}{prob:>18.4f}{agree:>16.1%}")


if __name__ == "__main__":
    main()
