"""Pricing: unit prices per (provider, model, time, mode) (`resolver`, with user `overrides`), cost
columns per request (`costs`, the OpenAI usage and costs exports counted once by `exports`), and the
report of how the run was priced (`report`)."""
