"""The base of errors caused by input a user can fix (configs, data, environment)."""


class UserError(Exception):
    """Its message says what is wrong and what to do; entry points print it and exit 2."""
