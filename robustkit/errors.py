"""The base of errors caused by input a user can fix (configs, data, environment)."""


class UserError(Exception):
    """Its message says what is wrong and what to do; entry points print it and exit 2."""


# The exit status of a run stopped because it made no progress or lost a peer
# (`robustkit.watchdog`, `robustkit.cli.run`); rerunning it resumes it.
STALLED_EXIT_CODE = 3
