"""`cinefoundry provenance verify|show`: where an output came from, by manifest and by watermark."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from cinefoundry.cli.output import HomeOpt, JsonOpt, emit_json, handles_errors, out, table, workspace

app = typer.Typer(help="Provenance of outputs: C2PA manifests, watermarks, generation records.")

_STATE_STYLE = {"Trusted": "bold green", "Valid": "yellow", "Invalid": "bold red", "Missing": "dim"}


@app.command("verify")
@handles_errors
def verify_cmd(
    file: Annotated[Path, typer.Argument(help="A generated file (MP4, MOV, PNG, EXR) or a frame folder.")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check the C2PA manifest (Trusted/Valid/Invalid/Missing), read the watermark, resolve the record."""
    from cinefoundry.provenance.verify import verify

    with workspace(home) as ws:
        doc = verify(ws, file)
    if as_json:
        emit_json(doc)
        return
    m, w, r = doc["manifest"], doc["watermark"], doc["record"]
    style = _STATE_STYLE.get(m["state"], "")
    codes = f" ({', '.join(m['codes'])})" if m.get("codes") else ""
    rows = [
        ["manifest", f"[{style}]{m['state']}[/]{codes}" if style else m["state"] + codes],
        ["signer", escape(m.get("signer_common_name") or "")],
        ["watermark", f"{w['id']} (confidence {w['confidence']:.2f}, {w['frames']} frames)" if w["found"]
         else f"none found (confidence {w['confidence']:.2f})"],
        ["record", escape(f"{r['id']}: {r['model']} on {r['dataset_version']}, seed {r['seed']}, by {r['created_by']} "
                   f"at {str(r['created_at'])[:19]}") if r else "not resolved"],
    ]  # fmt: skip
    if r:
        rows.append(["prompt", escape(r["prompt"])])
    out.print(table(str(file), ["", ""], rows, markup=True))


@app.command("show")
@handles_errors
def show_cmd(
    record: Annotated[str, typer.Argument(help="A generation record id (gen_...) or watermark id.")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One generation record: model, dataset version, prompt, seed, parameters, inputs, outputs, licence."""
    from cinefoundry.provenance.records import find_record

    with workspace(home) as ws, ws.session("provenance.read") as s:
        doc = find_record(s, record).as_dict()
    if as_json:
        emit_json(doc)
        return
    keys = ["id", "model", "dataset_version", "mode", "prompt", "negative_prompt", "seed", "created_by", "tenant",
            "created_at", "licence", "parent_id"]  # fmt: skip
    rows = [[k, doc.get(k)] for k in keys]
    rows += [["output", o["path"]] for o in doc["outputs"]]
    rows += [["input", f"{k}: {v['path']} ({v['sha256'][:12]})"] for k, v in doc["inputs"].items()]
    rows += [["attribution", a] for a in doc["attributions"]]
    out.print(table(doc["id"], ["", ""], rows))
