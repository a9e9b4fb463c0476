"""The `seer` command line: one layer above the engine (which stays headless) and the studio.

Commands are found through the ``seer.commands`` entry-point group, as operators are through
``seer.operators``: each entry point is a function that adds subcommands to the parser, so a
pack can add its own.
"""
