"""Gates, their config, baselines and the run record: from figures to verdicts."""
