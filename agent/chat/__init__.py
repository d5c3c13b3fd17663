"""The chat: a terminal REPL that plans with the user, runs, and explains its decisions from the log."""
