"""The floor for bench/workshop.py: one slider and one Plotly bar chart, nothing else."""

import plotly.graph_objects as go
import streamlit as st

x = st.slider("Value", 0.0, 10.0, 2.0, 0.1, key="value")
st.plotly_chart(go.Figure(go.Bar(x=[f"{i}: t{i}" for i in range(10)], y=[x * (i + 1) for i in range(10)])),
                key="chart")
