"""Evaluators: one capability per module (`accuracy` serves two: old_task and new_task).

Each module declares its gateable metrics (`METRICS`) and an `evaluate(models, data, settings)` that returns a
`harness.foundation.records.CapabilityResult` (metrics, samples and the evidence gate messages quote); evaluators never
decide gates. `harness.capabilities` registers them.
"""
