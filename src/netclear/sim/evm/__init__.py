"""HyperEVM lending contagion (docs/risk-lab.md "HyperEVM lending"): an Aave v3-shaped market priced off
Hyperliquid, its borrowers and liquidators, run beside the exchange as an external market of the runner."""
