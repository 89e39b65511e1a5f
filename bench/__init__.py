"""Benchmarks: speed and load, each measured side by side with a baseline in the same run.

    python -m bench.model      # the model against the notebook's, inference, training
    python -m bench.viz        # the heatmap against a frozen copy of the old one
    python -m bench.app        # a client's request to the heatmap back (--browser: keystroke to heatmap)
    python -m bench.app --clients 100   # the load run (bench/load.py): a class, a flood, the no-op ceiling
    python -m bench.memory     # what one request costs the server's memory, with and without its allocator setting
    python -m bench.gpu_check  # CUDA against the CPU on every bundled checkpoint
    python -m bench.train_tab  # how soon the Train tab's defaults teach each task, the Transformer beside the LSTM

Outside the wheel: nothing in s2s/ or the page imports this package. docs/speed.md holds the figures.
"""
