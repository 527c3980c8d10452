"""The web dashboard served by ``netclear serve`` at ``GET /`` (docs/dashboard.md).

A single page in plain JavaScript (``static/``, no build step) that reads the exchange only through the
public ``POST /info`` and ``/ws`` endpoints, as any Hyperliquid client would. Its charts use plotly.js,
served from the installed ``plotly`` package (``plotly/package_data/plotly.min.js``), so the page needs
no network. The routes added here serve files only:

* ``GET /``: the page; ``GET /dashboard/static/*``: its script and style; ``GET /dashboard/plotly.min.js``;
* ``GET /dashboard/runs``: the risk-lab runs found in the ``--runs`` directory (``runs.py``), and
  ``GET /dashboard/runs/{name}/{file}``: a run's report and its files.
"""

from __future__ import annotations

from netclear.dashboard.routes import mount

__all__ = ["mount"]
