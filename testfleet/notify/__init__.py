"""Notifications of finished runs to where a team looks: GitHub, GitLab, Slack and signed
webhooks (docs/notifications.md). ``cli/notifier.py`` is the process that sends them."""
