"""Training as session fixtures: LoRA recipes, answer-only loss, replay; cached by content hash."""
