"""`python -m bot.cli ...`, as the tests and benchmarks start the service and the tools."""

from bot.cli import main

raise SystemExit(main())
