"""Routing: who is told (assignment, tier override, delegates), through which receivers, and
escalation when nobody acts."""
