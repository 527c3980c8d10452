"""Lending rules: utilization-based rates and cumulative interest indices (Hyperliquid docs 'Portfolio
margin')."""
