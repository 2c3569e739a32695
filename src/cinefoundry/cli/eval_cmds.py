"""`cinefoundry eval MODEL`: measure a registered model and store the numbers with it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cinefoundry.cli.output import (
    HomeOpt,
    JsonOpt,
    emit_json,
    handles_errors,
    out,
    parse_interval,
    reporter,
    table,
    workspace,
)


@handles_errors
def evaluate(
    model: Annotated[str, typer.Argument(help="Model (NAME, NAME@vN or id).")],
    per_title: Annotated[
        int | None, typer.Option(help="Clips generated per title (default: the eval's).", min=1)
    ] = None,
    steps: Annotated[
        int | None, typer.Option(help="Sampling steps of the generated clips (default: the eval's).", min=1)
    ] = None,
    guidance: Annotated[float | None, typer.Option(help="Guidance scale (default: the model's).")] = None,
    guidance_interval: Annotated[
        str | None, typer.Option(help="Guide only at noise levels LO < sigma <= HI, as 'LO,HI' (default: the model's).")
    ] = None,
    judges: Annotated[
        int | None,
        typer.Option(
            min=1, help="Title classifiers judging together (one alone is a seed-dependent judge; default: the eval's)."
        ),
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Where the sample sheet goes.")] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """VAE PSNR/SSIM vs the mean clip, held-out flow loss, title recognition, catalog FD, memorisation."""
    from cinefoundry.evaluate.model_eval import EvalSettings, evaluate_model
    from cinefoundry.generate.export import grid, write_mp4

    with workspace(home) as ws:
        # options left out keep EvalSettings' defaults, which live in one place (the output reports them)
        given = {"per_title": per_title, "steps": steps, "judges": judges}
        settings = EvalSettings(
            guidance=guidance,
            guidance_interval=parse_interval(guidance_interval),
            **{k: v for k, v in given.items() if v is not None},
        )
        doc = evaluate_model(ws, model, settings, reporter(as_json))
        samples = doc.pop("samples")
        folder = out_dir or ws.home / "reports" / f"{doc['model']}-eval"
        fps = 8
        doc["sample_sheet"] = str(write_mp4(folder / "samples.mp4", grid(samples, columns=settings.per_title), fps))
    if as_json:
        emit_json(doc)
        return
    v, f, tr, fd, memo = doc["vae"], doc["flow"], doc["title_recognition"], doc["catalog_fd"], doc["memorisation"]
    clf = doc["classifier"]
    rows = [
        ["VAE PSNR (held-out)", f"{v['psnr_db']:.2f} dB",
         f"mean clip {v['mean_clip_psnr_db']:.2f} dB ({v['gain_db']:+.1f} dB)"],
        ["VAE SSIM (held-out)", f"{v['ssim']:.3f}", f"mean clip {v['mean_clip_ssim']:.3f}"],
        ["flow loss", f"{f['held_out_mean']:.4f} held-out", f"{f['train_mean']:.4f} train"],
        ["title recognition", f"{tr['accuracy']:.0%} of {tr['clips']} clips ({tr['steps']} steps)",
         f"95% interval {tr['interval_95'][0]:.0%}-{tr['interval_95'][1]:.0%}; chance {tr['chance']:.0%}; "
         + ", ".join(f"{k} {a:.0%}" for k, a in tr["per_title"].items()) + f"; {_spread(tr['per_judge'], '.0%')}"],
        ["judges on real held-out clips", f"{clf['held_out_accuracy']:.0%} of {doc['held_out_windows']} clips",
         f"by title (mean {clf['held_out_title_mean']:.0%}): "
         + ", ".join(f"{k} {d['accuracy']:.0%} of {d['clips']}" for k, d in clf["held_out_per_title"].items())],
        ["catalog FD ratio", f"{fd['ratio']:.2f}", f"gen {fd['generated_vs_held_out']['mean']:.1f} ± "
         f"{fd['generated_vs_held_out']['std']:.1f}, train {fd['train_vs_held_out']['mean']:.1f} ± "
         f"{fd['train_vs_held_out']['std']:.1f}, in the held-out title mix (unmatched ratio "
         f"{fd['ratio_unmatched_titles']:.2f}); {_spread(fd['ratio_per_judge'], '.2f')}"],
        ["memorisation ratio", f"{memo['ratio']:.2f}", f"copy rate {memo['copy_rate']:.0%}"],
    ]  # fmt: skip
    out.print(table(f"{doc['model']} on {doc['dataset']}", ["metric", "value", "reference"], rows))
    out.print(f"samples: {doc['sample_sheet']} ({doc['seconds']:.0f} s)")


def _spread(per_judge: list[float], fmt: str) -> str:
    """'5 judges alone: 75%-95%': how far the judges, each alone, would have put the number."""
    if len(per_judge) < 2:
        return "1 judge"
    return f"{len(per_judge)} judges alone: {min(per_judge):{fmt}}-{max(per_judge):{fmt}}"
