"""The command line: ``python -m s2_superres <command> ...`` (``--help`` lists the commands)."""
import sys

from .core.cli import main

sys.exit(main())
