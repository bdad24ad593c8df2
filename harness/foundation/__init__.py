"""Plain helpers every layer may use: errors, records, caches, files, processes."""
