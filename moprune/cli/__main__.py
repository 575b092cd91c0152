"""``python -m moprune.cli``."""

import sys

from moprune.cli import main

if __name__ == "__main__":
    sys.exit(main())
