"""``python -m dbrain`` is the ``dbrain`` command."""

from dbrain.cli import main

if __name__ == "__main__":
    main()
