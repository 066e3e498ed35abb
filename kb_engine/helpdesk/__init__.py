"""Tickets and the people around them: the ticket database (models, migrations), the ticket service in
parts (`tickets/`), priority, routing, similarity, customers, email intake, staff users and throttling."""
