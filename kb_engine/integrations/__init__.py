"""Bringing content in from other tools and events out to them: importers (`importing/`: Zendesk,
Freshdesk, Confluence, HTML and Word), staff API tokens, signed webhooks and exports for reporting tools.
Imports `content` and `helpdesk`; none of them imports this room."""
