"""The command lines: thin argparse modules over the library, each an error in one line and an exit code.

    python -m s2s.cli.train ...          train a checkpoint, or retrain a bundled one from its recipe
    python -m s2s.cli.evaluate ...       measure checkpoints on fresh examples, side by side by length
    python -m s2s.cli.hub push|pull ...  publish a checkpoint to the Hugging Face Hub, or fetch one
"""
