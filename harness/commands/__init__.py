"""The `tunegate` command line: init, probes, data, recipe."""
