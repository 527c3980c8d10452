"""Applications over the margin rules and the engine (DESIGN.md: `calculator/` sits above the engine):
the capital-efficiency study (`efficiency`)."""
