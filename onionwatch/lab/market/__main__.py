"""Entry point of one market backend process: ``python -m onionwatch.lab.market --name N --port P``."""

from onionwatch.lab.market.server import main

main()
