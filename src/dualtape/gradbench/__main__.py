"""``python -m dualtape.gradbench``: dualtape as a GradBench tool, on stdin and stdout.

For example, with GradBench's CLI::

    ./gradbench repo run --eval lse --tool '$ python -m dualtape.gradbench --mode rev'
"""

from __future__ import annotations

import argparse
import sys

from .evals import MODES, Settings
from .protocol import ProtocolError, serve


def main(argv: list[str] | None = None) -> int:
    """Parse the options, then answer messages until stdin closes."""
    parser = argparse.ArgumentParser(prog="python -m dualtape.gradbench",
                                     description="dualtape as a GradBench tool (JSON lines "
                                                 "on stdin and stdout).")
    parser.add_argument("--mode", choices=MODES, default="rev",
                        help="AD mode for gradients and Jacobians (default: rev)")
    parser.add_argument("--chunk", type=int, default=32,
                        help="tangents per forward pass in --mode fwd (default: 32)")
    args = parser.parse_args(argv)
    if args.chunk < 1:
        parser.error(f"--chunk: expected a positive int, got {args.chunk}")
    try:
        serve(sys.stdin, sys.stdout, Settings(args.mode, args.chunk))
    except ProtocolError as exc:
        print(f"dualtape.gradbench: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
