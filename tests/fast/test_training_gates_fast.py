"""The training loop on a one-layer model: it ends a run at its first non-finite loss with finite weights, and early
stopping puts back the weights of the best evaluation and says so in the log."""

from __future__ import annotations

import json
import math

import torch

from harness.training.loop import LoopSettings, train_loop


def test_a_non_finite_loss_ends_training_with_finite_weights():
    layer = torch.nn.Linear(2, 1)
    losses = iter([1.0, 0.5, math.nan, 0.1])

    def loss_fn(model, batch):
        return model(batch["x"]).sum() * 0 + next(losses)

    batches = iter([{"x": torch.ones(1, 2)}] * 4)
    result = train_loop(layer, batches, LoopSettings(steps=4, learning_rate=0.1), "t", loss_fn=loss_fn)
    assert [row["loss"] for row in result.log] == [1.0, 0.5, None]
    assert result.stop["reason"] == "diverged" and "step 3" in result.stop["detail"]
    assert all(torch.isfinite(p).all() for p in layer.parameters())
    json.dumps(result.log, allow_nan=False)  # the log stays plain JSON


def test_early_stopping_restores_the_best_evaluation_weights_and_logs_the_decision():
    torch.manual_seed(0)
    layer = torch.nn.Linear(2, 1)
    evals, snapshots = iter([1.0, 0.5, 0.9, 0.95, 0.97]), []

    def eval_loss():
        snapshots.append(layer.weight.detach().clone())
        return next(evals)

    batches = iter([{"x": torch.ones(1, 2)}] * 10)
    settings = LoopSettings(steps=10, learning_rate=0.1, eval_every=1, early_stopping_patience=2)
    result = train_loop(layer, batches, settings, "t", eval_loss=eval_loss, loss_fn=lambda m, b: m(b["x"]).sum())
    assert result.stop == {"reason": "early stopping", "detail": "eval loss not improved for 2 evaluations",
                           "best_step": 2, "best_eval_loss": 0.5, "restored_best": True, "at_step": 4}
    assert torch.equal(layer.weight, snapshots[1])  # the weights of step 2, not of step 4
    assert not torch.equal(snapshots[1], snapshots[3])
