"""The ``salesflow`` executable: the CLI, loaded so that Ctrl-C while it loads is clean too.

Loading the CLI (click, rich, the config models) takes a noticeable fraction of a second; a
KeyboardInterrupt in that time would otherwise print an import traceback. Only the standard
library is imported before the guard.
"""

from __future__ import annotations

import sys

INTERRUPTED = "salesflow: interrupted; what was committed stays, and the next run goes on from there\n"


def main() -> None:
    try:
        from salesflow.cli.main import main as run

        run()
    except KeyboardInterrupt:  # the CLI itself says this for Ctrl-C in a command; here, the moments around it
        sys.stderr.write(INTERRUPTED)
        sys.exit(130)
