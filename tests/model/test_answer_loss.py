"""The training loss on the built-in model: projecting only the answer positions to the vocabulary gives the model's own
loss."""

from __future__ import annotations


def test_answer_loss_equals_the_models_own_loss(base_model, project_root):
    """Projecting only the labelled positions to the vocabulary gives the model's own loss (and gradients)."""
    import torch
    from peft import LoraConfig, get_peft_model

    from harness.data import load_examples
    from harness.training.batching import collate, encode_example
    from harness.training.loop import answer_loss, model_loss

    model, tokenizer = base_model.load()
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False))
    examples = load_examples(project_root / "fixtures/tasks/base/dev.json")[:12]
    batch = collate([encode_example(tokenizer, ex, 64) for ex in examples], tokenizer.pad_token_id)
    ours, theirs = answer_loss(model, batch), model_loss(model, batch)
    assert torch.allclose(ours, theirs, rtol=1e-5), (ours, theirs)
    grads = [torch.autograd.grad(loss, [p for p in model.parameters() if p.requires_grad]) for loss in (ours, theirs)]
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(*grads, strict=True))
