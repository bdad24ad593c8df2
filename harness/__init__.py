"""tunegate: pytest release gates for fine-tuned language models (LoRA / adapters)."""

from __future__ import annotations

__version__ = "0.1.0"
