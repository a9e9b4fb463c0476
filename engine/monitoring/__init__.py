"""Keeping a published model alive: monitoring windows and drift from the service's logs,
alert rules, retraining policies, champion/challenger comparisons and shadow traffic."""
