"""``python -m engine fetch NAME``: download a Hub model the safe way (see ``engine.hub``).

The entry point lives here, not in cli.entry, because the engine imports no other LensLab package.
"""

from __future__ import annotations

import argparse
import sys

from engine.errors import LensLabError


def _fetch(name: str) -> int:
    from engine.hub import cached_folder, fetch, offline_by_env

    folder = cached_folder(name)
    if folder is None:
        if offline_by_env():
            print(f"error: {name!r} is not in the cache and HF_HUB_OFFLINE=1 forbids downloads; unset it "
                  "to fetch", file=sys.stderr)
            return 2
        folder = fetch(name)
    print(f"{name}: {folder}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine", description="Fetch a model for LensLab.")
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch", help="download a Hub model's safetensors weights, configs and tokenizer")
    fetch.add_argument("name", help="a Hugging Face name, e.g. openai-community/gpt2")
    args = parser.parse_args(argv)
    try:
        return _fetch(args.name.strip())
    except LensLabError as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume (finished files are kept)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    try:
        code = main()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    sys.exit(code)
