"""Allow `python -m autocodebase`."""

from autocodebase.cli.main import main

main()
