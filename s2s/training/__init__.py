"""Training a checkpoint, on the CPU or a GPU with the same code; no command line here (that is s2s/cli/train.py).

    config.py   TrainConfig: one run's settings, their defaults, the device policy (batch size, learning rate)
    data.py     the one pair loader (a task's, or your own pairs), and the blocks and batches fed to the model
    trainer.py  the loss, the forcing schedule, Trainer (a run one step at a time) and train (the loop)
    cards.py    the one model-card writer (README.md): the command line's, the Train tab's, the Hub's
    recipes.py  the bundled checkpoints' settings, as data, to retrain them
"""
