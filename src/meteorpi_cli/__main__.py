"""``python -m meteorpi_cli``: the ``meteorpi`` command."""

from meteorpi_cli import main

main(prog_name="meteorpi")
