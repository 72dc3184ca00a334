"""The admin app's pages: every module here is imported by admin_ui.shell.register_pages."""
