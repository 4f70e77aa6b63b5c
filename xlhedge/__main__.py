"""``python -m xlhedge``: the command line, where the ``xlhedge`` script is not on PATH."""

from xlhedge.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
