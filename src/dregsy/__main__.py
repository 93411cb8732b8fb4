"""`python -m dregsy` runs the command-line interface."""

from dregsy.entry import run

run()
