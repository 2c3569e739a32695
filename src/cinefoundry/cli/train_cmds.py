"""`cinefoundry train`: train a video model on a dataset version and register it.

Also the entry point of `torchrun --nproc_per_node N -m cinefoundry.train ...` (same options).
"""

from __future__ import annotations

from typing import Annotated

import typer

from cinefoundry.cli.output import HomeOpt, JsonOpt, emit_json, handles_errors, out, reporter, table, workspace


def parse_overrides(text: str) -> dict[str, bool | float | int | str | None]:
    """`steps=200,seconds=none,lr=1e-3,vae_cpu_bf16=false` -> typed training settings."""
    out_: dict[str, bool | float | int | str | None] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, _, value = part.partition("=")
        if value.lower() in ("none", "off"):
            out_[key.strip()] = None
            continue
        if value.lower() in ("true", "false"):
            out_[key.strip()] = value.lower() == "true"
            continue
        try:
            out_[key.strip()] = int(value)
        except ValueError:
            try:
                out_[key.strip()] = float(value)
            except ValueError:
                out_[key.strip()] = value
    return out_


@handles_errors
def train(
    dataset: Annotated[str, typer.Option("--dataset", help="Dataset version to train on (NAME or NAME@vN).")],
    recipe: Annotated[str, typer.Option(help="tiny, demo, wan-1.3b, studio-s, studio-m, studio-l.")] = "demo",
    name: Annotated[str | None, typer.Option(help="Model name in the registry (default: the dataset's).")] = None,
    init_from: Annotated[
        str | None, typer.Option("--init-from", help="A registered model, or a local diffusers folder of weights.")
    ] = None,
    lora_rank: Annotated[int | None, typer.Option("--lora-rank", help="Train a LoRA of this rank only.")] = None,
    set_: Annotated[str, typer.Option("--set", help="Training overrides, e.g. 'steps=500,seconds=none'.")] = "",
    strategy: Annotated[str, typer.Option(help="Under torchrun: ddp or fsdp (FSDP2).")] = "ddp",
    stop_after: Annotated[
        int | None, typer.Option("--stop-after", help="Stop each stage after N steps in this run (rerun resumes).")
    ] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Train a model: VAE, latent and text caches, flow-matching denoiser; resumes an interrupted run."""
    from cinefoundry.models.recipes import get_recipe  # torch loads here, not when the CLI starts
    from cinefoundry.train.parallel import from_environment
    from cinefoundry.train.run import TrainRequest, train_model

    par = from_environment(strategy)
    try:
        chosen = get_recipe(recipe).with_overrides(**parse_overrides(set_))
        request = TrainRequest(dataset, chosen, name, init_from, lora_rank, stop_after)
        with workspace(home) as ws:
            report = train_model(ws, request, par, reporter(as_json or not par.is_main))
    finally:
        par.close()
    if not par.is_main:
        return
    if as_json:
        emit_json(report.as_dict())
        return
    rows = [[k, v["steps"], f"{v['seconds']:.0f} s", f"{v['final_loss']:.4f}" if v["final_loss"] else "",
             v.get("psnr", "")] for k, v in report.stages.items()]  # fmt: skip
    out.print(table("stages", ["stage", "steps", "time", "final loss", "VAE PSNR dB"], rows))
    if report.model:
        m = report.model
        out.print(f"[bold green]registered {m['label']}[/] ({m['recipe']} on {m.get('dataset')}) in {m['path']}")
    else:
        out.print(f"[yellow]stopped before the end[/]: rerun the same command to resume ({report.run_folder})")
