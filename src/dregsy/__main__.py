"""`python -m dregsy` runs the command-line interface."""

from dregsy.cli import main

raise SystemExit(main())
