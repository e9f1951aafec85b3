"""The operator console: server-rendered pages under /console for system-role admins."""
