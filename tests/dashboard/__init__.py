"""Dashboard: its info views, its routes, and the page itself in a real headless Chromium."""
