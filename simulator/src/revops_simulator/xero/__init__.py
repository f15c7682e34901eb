"""Xero's Accounting API, simulated: see `api`."""
