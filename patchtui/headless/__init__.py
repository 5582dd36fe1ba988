"""The headless front end: commands for cron, CI and scripts (JSON lines, exit codes)."""
