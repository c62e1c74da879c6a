"""Unlearn page: find where a planted secret lives in the MLP weights and remove it without hurting the facts."""

import streamlit as st

from ui.shell import attempt, open_page
from ui.unlearn import extraction_panel, model_secrets, pick_secret, pick_spec, results_panel, robust_panel

engine, sel = open_page(
    "Unlearn",
    "Memorize, localize, unlearn: a secret planted in the training corpus (1 to 64 copies) is memorized when the "
    "greedy continuation of its prefix reproduces it. Localize it in the MLP weights, remove it for your runs only, "
    "and check that the facts and held-out perplexity survive.",
    needs_prompt=False,
)
secrets = attempt(model_secrets, sel.model)
if not secrets:
    st.info("This model has no planted secrets (prompts/secrets.jsonl). Unlearn a secret of your own from the "
            "command line: `.venv/bin/python -m unlearn apply --model MODEL --secrets FILE --clean FILE`.")
    st.stop()
secret = pick_secret(secrets)
extraction_panel(sel.model, secret)
st.divider()
targets, spec = pick_spec(engine, secret, secrets)
if st.button("Apply", key="unlearn_apply", type="primary"):
    st.session_state["_unlearn_applied"] = (sel.model, targets, spec)
if st.session_state.get("_unlearn_applied") != (sel.model, targets, spec):
    st.caption("Press Apply to unlearn with these settings (the shared model is never changed).")
    st.stop()
result = results_panel(sel.model, targets, spec, len(secrets))
if result is not None:
    st.divider()
    robust_panel(sel.model, targets, result)
