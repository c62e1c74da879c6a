"""What every ``python -m ...`` command shares: bounded, typed flags and one-line errors.

The names load on first use, so ``cli.entry`` can start a command before torch is imported.
"""

from cli.entry import lazy_exports

_HOMES = {
    "cli.args": ["Parser", "UsageError", "finite", "out_folder", "parse", "positive", "whole", "whole_list"],
    "cli.model": ["load_engine"],
    "cli.run": ["INTERRUPTED", "brief", "run_command"],
}
__getattr__, __all__ = lazy_exports(__name__, _HOMES)
