"""The dashboard's pages, each a ``render`` function registered with ``st.navigation`` in app.py."""
