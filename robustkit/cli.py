"""What every entry point shares: the --config/--set flags, logging, error exits."""

import argparse
import logging
import os
import sys
from typing import Callable

from robustkit.errors import UserError


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """Adds ``--config``, ``--set`` and ``--print-config``."""
    parser.add_argument("--config", metavar="FILE", help="YAML config from configs/ (defaults are used if omitted)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config value, e.g. --set train.epochs=3 (repeatable; values are YAML)",
    )
    parser.add_argument(
        "--print-config", action="store_true", help="print the resolved config and exit without running"
    )
    parser.add_argument(
        "--log-level", default=os.environ.get("ROBUSTKIT_LOG_LEVEL", "INFO"), help="logging level (default INFO)"
    )


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run(body: Callable[[], int]) -> int:
    """Runs ``body``; a `UserError` becomes one paragraph on stderr and exit status 2."""
    try:
        return body()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume from the last completed epoch", file=sys.stderr)
        return 130
