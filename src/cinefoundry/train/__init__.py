"""Training: the flow-matching objective, the trainer, parallelism, checkpoints, LoRA."""
