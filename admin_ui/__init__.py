"""admin_ui: the NiceGUI admin and seller app, mounted at /admin (docs/admin-app.md).

Layout: `mount.py` mounts NiceGUI into the root app (`ui.run_with`); `context.py` holds
what the pages use (the same `Deps` as the API, the bus, Redis); `session.py` signs in
with Gavel accounts (the API's login, MFA and rate limits); `shell.py` registers pages
with their audience and draws the frame; `pages/` holds one module per page or group.
Pages call the use cases in `services/`; they never write tables directly.
"""
