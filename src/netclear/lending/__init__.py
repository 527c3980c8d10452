"""Lending rules: utilization-based rates and cumulative interest indices (research §3.4)."""
