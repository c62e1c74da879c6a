"""Unit lists now live in :mod:`cluster.units` (the CLI's --cluster reads them too); this name stays for existing imports."""

from cluster.units import UNITS_HELP, parse_units  # noqa: F401
