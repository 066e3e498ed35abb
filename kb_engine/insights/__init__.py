"""What the desk learns from use: search and feedback analytics, the dashboard, content gaps and customers'
phrasings proposed as learned questions."""
