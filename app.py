"""Placeholder until the app issue lands: python app.py will open the attention explorer."""
