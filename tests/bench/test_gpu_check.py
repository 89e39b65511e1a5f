"""python -m bench.gpu_check, the CUDA parity check, on the CPU: it finds differences, and says when it cannot run.

The comparison itself runs on a GPU machine (no GPU here or in CI); these tests check that the
comparison can fail, so a parity run that prints "0 differences" means something.
"""

from __future__ import annotations

import pytest
import torch

from bench import gpu_check
from s2s import checkpoint, fused, tasks
from tests.conftest import build_checkpoint


@pytest.mark.slow  # three checkpoints compared text by text on every recorded array
def test_the_same_model_twice_has_no_differences_and_another_has_some(tiny_checkpoint_dir, tmp_path):
    texts = tasks.TASKS["dates"].generate(3, seed=5)
    a, b = checkpoint.load(tiny_checkpoint_dir, device="cpu"), checkpoint.load(tiny_checkpoint_dir, device="cpu")
    assert gpu_check.differences(a, b, texts) == []
    other = checkpoint.load(build_checkpoint(tmp_path / "other", seed=9), device="cpu")
    assert len(gpu_check.differences(a, other, texts)) > 0
    with torch.no_grad():  # the same pieces, attention nudged beyond the tolerance: still a difference
        for parameter in b.model.parameters():
            parameter.add_(torch.randn_like(parameter) * 1e-2)
    assert any("attention" in d or "vs" in d for d in gpu_check.differences(a, b, texts))


def test_the_fused_training_pass_matches_autograd_and_a_wrong_one_is_caught(tiny_checkpoint_dir, monkeypatch):
    texts = tasks.TASKS["dates"].generate(20, seed=5)
    model = checkpoint.load(tiny_checkpoint_dir, device="cpu")
    assert gpu_check.training_differences(model, texts, "cpu") == []
    forward = fused.forward
    monkeypatch.setattr(fused, "forward", lambda *a, **k: forward(*a, **k) * 1.01)  # logits 1% off
    assert gpu_check.training_differences(model, texts, "cpu")


def test_without_cuda_it_says_so_and_does_not_pass(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main(["--n", "1"]) == 2
    assert "no CUDA device" in capsys.readouterr().err


FACTORIES = {"tensor", "as_tensor", "arange", "zeros", "ones", "full", "empty", "rand", "randn", "randint", "eye"}
HOST_TENSORS = {"lengths"}  # pack_padded_sequence takes its lengths on the CPU, wherever the model is


def test_every_tensor_the_model_code_makes_names_its_device():
    """No GPU here, so a tensor made on the CPU in code that runs on CUDA would only fail there: beam search
    built its EOS index on the CPU (review of 2026-11-29). Every factory call names a device, or makes lengths."""
    import ast
    from pathlib import Path

    unplaced = []
    for name in ("model.py", "decode.py", "fused.py", "translator.py", "training/data.py", "training/trainer.py",
                 "evaluate.py"):
        path = Path(fused.__file__).parent / name
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in HOST_TENSORS
                                                    for t in node.targets):
                node.value = ast.Constant(None)  # what is assigned to lengths is made on the host on purpose
            elif isinstance(node, ast.FunctionDef) and node.name == "__init__":
                node.body = []  # a module's parameters move with it (model.to(device))
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "to"
                  and isinstance(node.func.value, ast.Call)):
                node.func.value = ast.Constant(None)  # made, then moved at once
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in FACTORIES
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "torch"
                    and not any(k.arg == "device" for k in node.keywords)):
                unplaced.append(f"{name}:{node.lineno} torch.{node.func.attr}")
    assert unplaced == []
