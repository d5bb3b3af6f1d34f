"""`python -m daemon` is the same as the `healerd` console script."""

from daemon.cli.main import main

main()
