"""Choosing what to sync: tag entries, semantic versions, Go regexes and repository paths.

Everything here is pure: no I/O, no logging of registry state. The config layer compiles
a mapping's `tags`, `from` and `to` into these objects once, at start, so a malformed
filter is a config error and never a crash during a run.
"""
