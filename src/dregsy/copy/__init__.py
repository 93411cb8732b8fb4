"""The copy engine: decide what to move (plan, pure) and move it (engine)."""
