"""`python -m dregsy` runs the command-line interface."""

from dregsy.cli import run

run()
