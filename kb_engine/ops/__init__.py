"""Running kb-engine for real: structured logs, metrics, backup and restore, personal data (export, erase,
retention) and the staff audit log. May import content, search, helpdesk and insights; never imported by
them (the web app and the CLI call it)."""
