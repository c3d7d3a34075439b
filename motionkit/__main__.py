"""``python -m motionkit`` runs the command line."""

from motionkit.cli import main

main()
