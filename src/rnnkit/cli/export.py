"""``rnnkit export``: a checkpoint -> ONNX graphs with the recurrent state in and out."""

from __future__ import annotations

from pathlib import Path

import typer

from rnnkit.cli.common import console, user_errors


@user_errors
def export(
    checkpoint: Path = typer.Argument(..., help="A checkpoint of any rnnkit model (saved, or a run's best/last)."),
    format: str = typer.Option("onnx", "--format", "-f", help="Export format (onnx)."),
    output: Path = typer.Option(None, "--output", "-o",
                                help="Where to write (default: the checkpoint's path with .onnx). The conditioned "
                                     "generator writes NAME.init/.step.onnx, the translator NAME.encoder/"
                                     ".decoder.onnx."),
) -> None:
    """Export a trained model for other runtimes (onnxruntime ...): dynamic batch and time axes,
    the recurrent state as explicit inputs and outputs (stream with T=1), vocabularies, classes
    and scalers in the file's 'rnnkit' metadata. Needs: pip install 'rnnkit\\[onnx]'."""
    from rnnkit.tasks import export as export_model

    for path in export_model(checkpoint, output, format=format):
        console.print(f"wrote {path}", highlight=False)
