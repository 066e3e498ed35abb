"""Export a sentence-transformers model's transformer to ONNX and check it against torch.

`kb_engine.search.embedding` runs this in a child process (``python -m kb_engine.search.onnx_export``) the
first time a model is served with ONNX Runtime, so that the serving process itself never imports torch. The
export uses torch's TorchScript-based exporter (`dynamo=False`), which needs only the `onnx` package besides
torch. Its output is the transformer's last hidden state; tokenisation, pooling and normalisation stay in
`OnnxEmbedder`. The export is adopted only if every verification text below embeds, one at a time and in
padded batches, to a vector at cosine >= `MIN_COSINE` of the torch pipeline's.

Hand-written on purpose: `optimum` and `sentence-transformers[onnx]` export too, but pull in (or downgrade)
packages the engine does not otherwise need, and neither verifies the export against torch before use.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import inspect
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from kb_engine.search.embedding import OnnxEmbedder, SentenceTransformerEmbedder, onnx_plan

MIN_COSINE = 0.99999
OPSET = 17
_LONG_EN = (
    "When the VPN client reports error 809 after a Windows update, the firewall of the home router or of "
    "the hotel network is usually blocking the IPsec ports. Check that UDP 500 and 4500 are open, that "
    "NAT traversal is enabled on the client, and that the system clock is right, because certificates "
    "are refused when the date is wrong. "
)
_LONG_FR = (
    "Quand l'imprimante partagée du troisième étage reste « hors ligne » alors qu'elle est allumée, "
    "vérifiez d'abord le câble réseau et l'adresse IP affichée sur son écran, puis supprimez la file "
    "d'attente bloquée depuis le poste de travail : les travaux d'impression en erreur empêchent "
    "souvent les suivants de partir. "
)
# English and French, queries and article-like passages, short and past the model's max length.
VERIFY_TEXTS: tuple[str, ...] = (
    "I forgot my password",
    "wifi down",
    "How do I set up two-factor authentication on my new phone?",
    "Outlook keeps asking for my password after the update",
    "VPN error 809",
    "printer offline",
    "Reset a forgotten password: open the sign-in page, choose “Forgot password” and follow the link.",
    "J'ai oublié mon mot de passe",
    "imprimante hors ligne",
    "Comment configurer la double authentification sur mon nouveau téléphone ?",
    "Le Wi-Fi ne marche plus depuis ce matin",
    "écran noir au démarrage",
    "Réinitialiser un mot de passe oublié : ouvrez la page de connexion et suivez le lien reçu.",
    "ERROR 0x80070005 access denied!!! 😡 help",
    "a",
    _LONG_EN * 3,
    _LONG_FR * 3,
    _LONG_EN * 12,
    (_LONG_EN + _LONG_FR) * 4,
    "mot " * 700,
)


def export_transformer(embedder: SentenceTransformerEmbedder, out: Path) -> None:
    """Write the model's transformer (ids, mask[, token types] -> last hidden state) as ONNX to out."""
    import torch

    transformer: Any = embedder.model[0].auto_model
    takes_types = "token_type_ids" in inspect.signature(transformer.forward).parameters
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if takes_types else [])

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *inputs: Any) -> Any:
            return self.transformer(**dict(zip(names, inputs, strict=True))).last_hidden_state

    # A padded batch: traced with an all-ones mask, the graph could drop the masking branch.
    ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 102], [101, 7592, 102, 0, 0, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    example = (ids, mask, torch.zeros_like(ids))[: len(names)]
    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]}
    with warnings.catch_warnings():
        # The legacy exporter announces its deprecation and the tracer its usual caveats; the
        # verification below is what says whether the graph is right.
        warnings.simplefilter("ignore")
        with torch.no_grad():
            torch.onnx.export(
                LastHiddenState().eval(),
                example,
                str(out),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )


def compare(reference: Any, candidate: Any, texts: tuple[str, ...] = VERIFY_TEXTS) -> float:
    """The lowest cosine between two embedders' vectors of texts, one at a time and in padded batches."""
    one = [float(reference.encode_queries([t])[0] @ candidate.encode_queries([t])[0]) for t in texts]
    batched = np.sum(
        reference.encode_documents(list(texts), batch_size=8)
        * candidate.encode_documents(list(texts), batch_size=8),
        axis=1,
    )
    return float(min(min(one), float(batched.min())))


def export_and_verify(model_dir: Path, out: Path, *, threads: int = 1) -> dict[str, Any]:
    """Export model_dir's transformer to out and compare it with torch; the verdict as a dict."""
    plan = onnx_plan(model_dir)
    reference = SentenceTransformerEmbedder(str(model_dir), threads=threads)
    export_transformer(reference, out)
    candidate = OnnxEmbedder(str(model_dir), plan, out, threads=threads)
    lowest = compare(reference, candidate)
    verified = lowest >= MIN_COSINE
    verdict: dict[str, Any] = {
        "verified": verified,
        "min_cosine": round(lowest, 8),
        "threshold": MIN_COSINE,
        "texts": len(VERIFY_TEXTS),
        "model_dir": str(model_dir),
        "torch": importlib.metadata.version("torch"),
        "sentence_transformers": importlib.metadata.version("sentence-transformers"),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    if not verified:
        verdict["reason"] = f"ONNX vectors drift from torch's (lowest cosine {lowest:.7f} < {MIN_COSINE})"
    return verdict


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("out", type=Path, help="the .onnx file to write")
    parser.add_argument("verdict", type=Path, help="where to write the verdict (JSON)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    verdict = export_and_verify(args.model_dir, args.out, threads=args.threads)
    args.verdict.write_text(json.dumps(verdict, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
