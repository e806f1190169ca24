"""Print the documented example config.ini: `python -m pterodisbot.config > config.ini`."""

from __future__ import annotations

import sys

from pterodisbot.config import example_ini

if __name__ == "__main__":
    sys.stdout.write(example_ini())
