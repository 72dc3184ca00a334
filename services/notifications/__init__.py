"""Notifications beyond storing them (storage/notification_writer.py does that): the live
stream (`live`), the ending-soon job (`ending_soon`), email dispatch (`email`) and the
per-kind email preferences (`preferences`). docs/notifications.md lists the kinds."""
