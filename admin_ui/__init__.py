"""admin_ui: lands with a later issue (see README)."""
