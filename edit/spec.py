"""What to edit and how, the edit package's errors, and the token questions it asks of the model.

- ``EditSpec`` and ``Fact``: frozen values the page, the CLI and the bench build and the core reads;
- ``EditError`` and its kinds: every message says how to fix the input;
- ``answer_token_id`` and ``subject_last_position``: token questions, each answered in one place.

Choices the paper leaves open, made once for every method:

- the edited matrix is the MLP output weights ``W_out`` of one chosen layer (``(d_mlp, d_model)``);
- the objective is the cross-entropy of the new object's first token at the edit prompt's last
  position, on the edit prompt alone (paraphrases are kept for measuring generalisation);
- training uses Adam for at most ``steps`` steps and stops as soon as the new object's
  probability reaches ``target_p``, so the methods are compared at the same efficacy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.errors import LensLabError


class EditError(LensLabError, ValueError):
    """Base class of every error the edit package raises on purpose."""


class EditSpecError(EditError):
    """An edit request or its method settings are malformed (unknown method, rank < 1, empty object, ...)."""


class EditResumeError(EditError):
    """An output folder holds a sweep made with other settings; choose another folder or delete it."""


METHODS: tuple[str, ...] = ("rank_one", "low_rank", "finetune", "interp")
KEY_POSITIONS: tuple[str, ...] = ("last", "subject")
METHOD_NAMES = {
    "rank_one": "rank-one (closed form)",
    "low_rank": "direct low-rank",
    "finetune": "one-layer fine-tune",
    "interp": "one-layer interpolation (1-LI)",
}


@dataclass(frozen=True)
class Fact:
    """One fact to rewrite: ``prompt`` (which names ``subject``) should now be followed by ``new``.

    ``answer`` is what the model says before the edit (the old object; "" when unknown).
    Objects carry their leading space, as the model predicts them: ``" boxing"``.
    """

    prompt: str
    subject: str
    new: str
    answer: str = ""
    relation: str = ""

    def __post_init__(self) -> None:
        if not self.prompt.strip():
            raise EditSpecError("the edit prompt is empty; type the text before the object, e.g. 'Shibeith plays'")
        if not self.subject.strip() or self.subject not in self.prompt:
            raise EditSpecError(f"the subject {self.subject!r} must appear in the prompt {self.prompt!r}; "
                                "type it exactly as the prompt spells it")
        if not self.new.strip():
            raise EditSpecError("the new object is empty; type it with its leading space, e.g. ' boxing'")
        if self.answer and self.new.strip() == self.answer.strip():
            raise EditSpecError(f"the new object {self.new!r} is what the model already says; choose another one")


@dataclass(frozen=True)
class EditSpec:
    """How to edit: ``method`` on block ``layer``'s ``W_out``.

    rank:  the rank of a ``low_rank`` edit (rank-one is 1; the fine-tune is full rank).
    alpha: the 1-LI weight: ``W + alpha * (W_finetuned - W)`` (``interp`` only).
    steps, target_p: the training budget shared by every method (see the module docstring).
    lr: Adam's step size; None takes the method's own (its parameters have different scales).
    decay: an L2 penalty on the change, in units of the loss, for every method.
    key: where the rank-one edit reads its key: "last" (the prompt's last token, default) or
         "subject" (the subject's last token, ROME's choice). The 4-layer demo looks facts up at
         the last token: a value written at the subject's token reaches p(new) ~0.1 at most there.
    """

    method: str = "rank_one"
    layer: int = 1
    rank: int = 4
    alpha: float = 0.5
    steps: int = 60
    lr: float | None = None
    target_p: float = 0.9
    decay: float = 0.0
    key: str = "last"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise EditSpecError(f"unknown edit method {self.method!r}; choose one of {', '.join(METHODS)}")
        if isinstance(self.rank, bool) or not isinstance(self.rank, int) or self.rank < 1:
            raise EditSpecError(f"rank must be a whole number >= 1, got {self.rank!r}")
        if not (math.isfinite(self.alpha) and 0.0 <= self.alpha <= 1.0):
            raise EditSpecError(
                f"alpha must lie in [0, 1] (0: the original layer, 1: the fine-tuned one), got {self.alpha!r}")
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise EditSpecError(f"steps must be a whole number >= 1, got {self.steps!r}")
        if self.lr is not None and not (math.isfinite(self.lr) and self.lr > 0):
            raise EditSpecError(f"the learning rate must be a positive number, got {self.lr!r}")
        if not 0.0 < self.target_p < 1.0:
            raise EditSpecError(f"target_p must lie strictly between 0 and 1, got {self.target_p!r}")
        if self.key not in KEY_POSITIONS:
            raise EditSpecError(f"unknown key position {self.key!r}; choose one of {', '.join(KEY_POSITIONS)}")
        if not (math.isfinite(self.decay) and self.decay >= 0):
            raise EditSpecError(f"decay must be a number >= 0, got {self.decay!r}")

    @property
    def label(self) -> str:
        """A short name for tables and legends, e.g. "direct low-rank (r=4)"."""
        extra = {"low_rank": f" (r={self.rank})", "interp": f" (α={self.alpha:g})"}.get(self.method, "")
        return METHOD_NAMES[self.method] + extra


def answer_token_id(engine, text: str, prompt: str) -> int:
    """The id of the first token of ``text`` as the model would predict it after ``prompt`` (``Engine.token_id``)."""
    return engine.token_id(text, "object", first=True, prompt=prompt)


def subject_last_position(engine, prompt: str, subject: str) -> int:
    """The position of the subject's last token in ``prompt`` (where a rank-one edit reads its key).

    Found by encoding the prompt up to the end of the subject's last occurrence.
    """
    end = prompt.rfind(subject)
    if end < 0:
        raise EditSpecError(f"the subject {subject!r} does not appear in {prompt!r}; type it as the prompt spells it")
    head = engine.encode(prompt[: end + len(subject)])
    return min(len(head), len(engine.encode(prompt))) - 1
