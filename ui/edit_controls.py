"""The Edit page's controls: the fact to edit (a demo fact, or typed) and the method, as frozen values."""

from __future__ import annotations

import streamlit as st

from edit.cases import EditCase, case_for, new_objects
from edit.spec import METHODS, EditSpec, Fact
from engine import Engine
from promptsets.paths import DEMO_PROMPTS
from promptsets.schema import FactPrompt, load_fact_prompts


@st.cache_data(ttl=300, show_spinner=False)
def demo_facts() -> tuple[FactPrompt, ...]:
    """The demo's single-hop facts (empty when the prompt set is missing)."""
    return tuple(load_fact_prompts(DEMO_PROMPTS)) if (DEMO_PROMPTS / "facts.jsonl").is_file() else ()


def _clean_top(engine: Engine, prompt: str) -> str:
    return engine.token_strs([int(engine.run(prompt).probs_mean.argmax())])[0]


def pick_case(engine: Engine, prompt: str, is_demo: bool) -> EditCase | None:
    """The fact to edit: the sidebar prompt's demo fact (pick a new object), or a typed subject and object.

    None (with a hint shown) until the typed fields are filled; EditSpecError for a malformed fact.
    """
    facts = demo_facts() if is_demo else ()
    row = next((f for f in facts if f.prompt == prompt.strip()), None)
    if row is not None:
        choices = new_objects(row, facts)
        c1, c2 = st.columns([2, 3])
        c1.markdown(f"**Fact** ({row.relation}): {row.subject} →`{row.answer}`")
        new = c2.selectbox("New object", choices, index=min(1, len(choices) - 1), key="edit_new", bind="query-params",
                           help="another object this relation takes in the demo world")
        return case_for(row, new, facts)
    st.caption("The prompt is not one of the demo's facts: type its subject and the new object "
               "(pick a prompt of the “facts” set in the sidebar for paraphrases and neighbours).")
    c1, c2 = st.columns(2)
    subject = c1.text_input("Subject (as the prompt spells it)", key="edit_subject", bind="query-params")
    new = c2.text_input("New object (with its leading space)", key="edit_new_text", bind="query-params",
                        placeholder="e.g. ' football'")
    if not subject.strip() or not new.strip():
        st.info("Type the subject and the new object to edit the fact.")
        return None
    return EditCase(Fact(prompt, subject, new, _clean_top(engine, prompt)))


def pick_spec(engine: Engine) -> EditSpec:
    """Method, layer and the method's own parameter (rank or alpha)."""
    c1, c2, c3 = st.columns([2, 2, 2])
    # No format_func: a bound selectbox writes the shown text into the URL, and the ids read better there.
    method = c1.selectbox("Method", METHODS, key="edit_method", bind="query-params",
                          help="rank-one: closed form (ROME-style); low-rank: rank r trained by gradient; "
                               "fine-tune: the whole matrix; 1-LI: the fine-tune, interpolated back by alpha")
    n_layers = engine.spec.n_layers
    layer = c2.slider("Layer", 0, n_layers - 1, min(1, n_layers - 1), key="edit_layer", bind="query-params",
                      help="the block whose MLP output weights the edit changes")
    rank, alpha = 4, 0.5
    if method == "low_rank":
        rank = int(c3.number_input("Rank r", 1, 64, 4, key="edit_rank", bind="query-params"))
    elif method == "interp":
        alpha = c3.slider("Alpha (0 = original, 1 = fine-tuned)", 0.0, 1.0, 0.5, 0.05, key="edit_alpha",
                          bind="query-params")
    return EditSpec(method=method, layer=layer, rank=rank, alpha=alpha)
