"""SpecLab's Streamlit dashboard: thin pages over :mod:`engine.service`."""
