"""Secret references: tag parsing, the on-disk refs store, tag compilation."""
