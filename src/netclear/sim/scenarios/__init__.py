"""Shipped risk-lab scenarios (TOML)."""
