"""Models: load a base model and tokenizer, attach or load LoRA adapters, build the built-in toy model."""
