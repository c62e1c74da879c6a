"""What every ``python -m ...`` command shares: bounded, typed flags and one-line errors."""

from cli.args import Parser, UsageError, finite, out_folder, parse, positive, whole, whole_list
from cli.model import load_engine
from cli.run import INTERRUPTED, brief, run_command

__all__ = ["INTERRUPTED", "Parser", "UsageError", "brief", "finite", "load_engine", "out_folder", "parse", "positive", "run_command",
           "whole", "whole_list"]
