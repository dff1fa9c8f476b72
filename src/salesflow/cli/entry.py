"""The ``salesflow`` executable: the CLI, loaded so that Ctrl-C while it loads is clean too.

Loading the CLI (click, rich, the config models) takes a noticeable fraction of a second; a
KeyboardInterrupt in that time would otherwise print an import traceback. Only the standard
library (and the error module, which imports nothing else) is imported before the guard.
"""

from __future__ import annotations

import sys

from salesflow.errors import INTERRUPTED, INTERRUPTED_LINE


def main() -> None:
    try:
        from salesflow.cli.main import main as run

        run()
    except KeyboardInterrupt:  # the CLI itself says this for Ctrl-C in a command; here, the moments around it
        sys.stderr.write(INTERRUPTED_LINE + "\n")
        sys.exit(INTERRUPTED)
