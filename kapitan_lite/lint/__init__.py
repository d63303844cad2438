"""``kcompile lint``: checks of the inventory and the repo, on the native engine's class graph."""
