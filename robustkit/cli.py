"""What every entry point shares: the --config/--set flags, logging, error exits."""

import argparse
import logging
import os
import shlex
import sys
from typing import Callable, Optional, Sequence, Type, TypeVar

from robustkit import quiet
from robustkit.errors import STALLED_EXIT_CODE, UserError


def entry_parser(prog: str, description: str, doc: str, out: bool = True) -> argparse.ArgumentParser:
    """The parser an entry point starts from: its description, the examples of its module
    docstring ``doc`` (everything after the first paragraph) as epilog, the config flags and,
    with ``out``, ``--out``."""
    parser = argparse.ArgumentParser(prog=prog, description=description, epilog=doc.split("\n", 2)[2],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_flags(parser)
    if out:
        parser.add_argument("--out", metavar="DIR", help="output directory (overrides run.dir)")
    return parser


def main(parser: argparse.ArgumentParser, body: Callable[[argparse.Namespace], int],
         argv: Optional[Sequence[str]]) -> int:
    """Parses ``argv``, sets up logging and runs ``body(args)`` through `run`."""
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    return run(lambda: body(args))


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """Adds ``--config``, ``--set`` and ``--print-config``."""
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="FILE",
        help="YAML config from configs/ (repeatable: later files are deep-merged over earlier ones, then --set "
             "applies; defaults are used if omitted)",
    )
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
        "--log-level", type=log_level, default=os.environ.get("ROBUSTKIT_LOG_LEVEL", "INFO"),
        help="logging level: DEBUG, INFO, WARNING, ERROR or CRITICAL (default INFO, or $ROBUSTKIT_LOG_LEVEL); "
             "DEBUG also shows TensorFlow's start-up and INFO lines"
    )


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def add_models_flag(parser: argparse.ArgumentParser, verb: str, repeat_note: str) -> None:
    """The repeatable ``--model NAME=PATH`` of the tools that compare models (`robustkit.models.paths`)."""
    parser.add_argument("--model", action="append", default=[], metavar="NAME=PATH",
                        help=f"a model to {verb}: a SavedModel directory, a model root of numbered versions (the "
                             f"highest is used) or a Keras file (repeatable; {repeat_note})")


def log_level(name: str) -> str:
    """``--log-level``'s type: a level name in any case; anything else is an argparse error (exit status 2)."""
    if str(name).upper() not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"{name!r} is not a logging level; choose one of {', '.join(LOG_LEVELS)}")
    return str(name).upper()


Job = TypeVar("Job")


def load_job(schema: Type[Job], args: argparse.Namespace, overrides: Optional[Sequence[str]] = None) -> Optional[Job]:
    """The job of ``--config`` and ``--set`` (plus ``overrides``), with ``--out`` as ``run.dir``.

    The ``--config`` files are deep-merged in order, each over the ones before, then the overrides apply.
    Returns None after printing the resolved config when ``--print-config`` was given.
    """
    from robustkit import config as config_lib

    job = config_lib.load(schema, args.config, [*args.overrides, *(overrides or [])])
    if getattr(args, "out", None):
        job.run.dir = args.out
    if args.print_config:
        print_config(job)
        return None
    return job


def print_config(job) -> None:
    """Prints the resolved config as YAML (``--print-config``)."""
    import yaml

    from robustkit import config as config_lib

    print(yaml.safe_dump(config_lib.to_dict(job), sort_keys=False), end="")


def command_line(prog: str, argv: Optional[Sequence[str]]) -> str:
    """The command as typed, for the headers of saved configs and reports."""
    return prog + " " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))


def setup_logging(level: str) -> None:
    """Logs to stderr at ``level``; the level is set even when the root logger already has handlers.

    Below DEBUG, TensorFlow's start-up lines, absl's INFO lines and the warnings
    every run gives are hidden (`robustkit.quiet`); DEBUG shows all of them.
    """
    numeric = getattr(logging, log_level(level))
    logging.basicConfig(
        level=numeric,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    logging.getLogger().setLevel(numeric)  # basicConfig does nothing when a handler exists.
    quiet.quiet_loggers(numeric)
    if numeric <= logging.DEBUG:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
    else:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        quiet.filter_stderr()


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
    except Exception as err:  # noqa: BLE001 (only TensorFlow's cluster errors are answered here)
        if not _lost_peer(err):
            raise
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"error: the run stopped because another worker or replica stopped answering ({type(err).__name__}: "
              f"{first}). Nothing finished is lost: start the same command again on every worker to resume from "
              "the last completed epoch.", file=sys.stderr)
        return STALLED_EXIT_CODE


_PEER_ERRORS = {"UnavailableError", "DeadlineExceededError", "AbortedError"}


def _lost_peer(err: BaseException) -> bool:
    """Whether ``err`` is TensorFlow's report of a collective whose peer is gone or timed out."""
    return type(err).__name__ in _PEER_ERRORS and type(err).__module__.startswith("tensorflow")
