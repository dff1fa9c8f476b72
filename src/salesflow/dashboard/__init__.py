"""The live dashboard (Streamlit) and the static HTML report share this data layer."""
