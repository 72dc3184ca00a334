"""admin_ui: the NiceGUI admin and seller app, mounted at /admin (not built yet: /admin
answers 503 until its issue lands)."""
