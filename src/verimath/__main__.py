"""``python -m verimath`` is the ``verimath`` command."""

from verimath.cli import main

main()
