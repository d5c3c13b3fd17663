"""`python -m agent` is the `mlpilot` command."""

from agent.cli import main

raise SystemExit(main())
