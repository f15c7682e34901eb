"""Dunning: policy evaluation and the side-effect adapters (Stripe, SMTP, signed webhook, signed links).

Plain Python, called by the `dunning_actions` Dagster job (assets/dunning.py) and testable without it.
"""
