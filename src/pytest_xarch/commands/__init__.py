"""One module per `xarch` subcommand: `HELP`, `add_arguments(parser)`, `main(args) -> int`.

Modules import only argparse at top level; the work they do is imported inside
`main`, so `xarch run` starts quickly.
"""
