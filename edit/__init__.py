"""Fact edits as per-run weight deltas, scored on the known world.

    from engine import Engine
    from edit import EditSpec, apply_edit, demo_cases, score_edit
    eng = Engine.load("assets/demo")
    case = demo_cases(1)[0]
    result = apply_edit(eng, case.fact, EditSpec(method="rank_one", layer=1))
    scores = score_edit(eng, case, result.delta)     # eng.run(prompt, [result.delta]) runs edited
"""

from edit.methods import EditResult, apply_edit
from edit.score import (RELATIONS, EditCase, EditScores, PromptRow, case_for, demo_cases, heldout_texts, new_objects,
                        paraphrases, score_edit)
from edit.spec import METHOD_NAMES, METHODS, EditError, EditResumeError, EditSpec, EditSpecError, Fact

__all__ = [
    "METHODS", "METHOD_NAMES", "RELATIONS", "EditCase", "EditError", "EditResult", "EditResumeError",
    "EditScores", "EditSpec", "EditSpecError", "Fact", "PromptRow", "apply_edit", "case_for", "demo_cases",
    "heldout_texts", "new_objects", "paraphrases", "score_edit",
]
