"""`python -m cinefoundry.train ...` (and `torchrun ... -m cinefoundry.train ...`): the `train` command."""

import typer

from cinefoundry.cli.train_cmds import train

if __name__ == "__main__":
    typer.run(train)
