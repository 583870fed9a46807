"""LMS integration, one Django app above `classes` and `analytics`: the REST API (`api`), per-school API keys,
signed webhooks with their durable delivery log (`webhooks`), and the integrations pages (`views`).

Nothing below it imports it: its signal receivers are connected in `LmsConfig.ready()`.
"""
