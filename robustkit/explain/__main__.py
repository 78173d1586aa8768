"""``python -m robustkit.explain``: see `robustkit.explain.cli`."""

import sys

from robustkit.explain.cli import main

if __name__ == "__main__":
    sys.exit(main())
