"""Market registry (tokens, spot pairs, perps, HIP-3 dexes), prices and funding rules."""
