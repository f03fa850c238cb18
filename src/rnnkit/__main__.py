"""``python -m rnnkit ...``: the same command line as the ``rnnkit`` script (and what
``torchrun -m rnnkit`` needs)."""

from rnnkit.cli.main import main

if __name__ == "__main__":
    main()
