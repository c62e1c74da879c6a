"""Token questions the edit package asks of the model, each answered in one place."""

from __future__ import annotations

from edit.errors import EditSpecError


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
