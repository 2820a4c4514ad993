"""python -m revizto_export: the same as the `revizto-export` command."""

from revizto_export.cli import main

main()
