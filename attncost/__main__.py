"""``python -m attncost`` runs the command line."""

from .cli import main

main()
