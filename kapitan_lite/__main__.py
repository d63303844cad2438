"""``python -m kapitan_lite`` runs ``kcompile``."""

from .cli import main

main()
