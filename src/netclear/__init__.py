"""netclear: a portfolio-margin clearinghouse and risk lab for perpetual-futures exchanges."""

__version__ = "0.1.0"
