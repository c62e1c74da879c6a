"""LensLab: look inside a GPT-style model and poke it. Run with `streamlit run app.py`.

The pages live in app_pages/, not pages/: a folder named pages/ beside this file switches
Streamlit to its older multipage mode, which runs a page without this script (and so
without the sidebar) when its URL is opened directly.
"""

import streamlit as st

from ui.links import guard_query_params, show_url_notes
from ui.shell import render_sidebar

st.set_page_config(page_title="LensLab", page_icon=":material/biotech:", layout="wide")

PAGES = [
    st.Page("app_pages/home.py", title="Start", icon=":material/home:", default=True),
    st.Page("app_pages/lens.py", title="Lens", icon=":material/search:", url_path="lens"),
    st.Page("app_pages/clusters.py", title="Clusters", icon=":material/hub:", url_path="clusters"),
    st.Page("app_pages/impair.py", title="Impair", icon=":material/tune:", url_path="impair"),
    st.Page("app_pages/memory.py", title="Memory", icon=":material/vaccines:", url_path="memory"),
    st.Page("app_pages/edit.py", title="Edit", icon=":material/edit_note:", url_path="edit"),
    st.Page("app_pages/patch.py", title="Patch", icon=":material/swap_horiz:", url_path="patch"),
    st.Page("app_pages/unlearn.py", title="Unlearn", icon=":material/auto_delete:", url_path="unlearn"),
    st.Page("app_pages/probe.py", title="Probes", icon=":material/psychology:", url_path="probe"),
    st.Page("app_pages/compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
]

guard_query_params()
page = st.navigation(PAGES)
render_sidebar()
show_url_notes()
page.run()
