"""QuickBooks Online's Accounting API, simulated: see `api`."""
