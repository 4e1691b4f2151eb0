"""Tiny fits of the shared-featurisation, multi-head TextModel."""

from __future__ import annotations

import numpy as np
import pytest

from moderation.model import TextModel
from training.pipelines import fit_text_model

SPAM = [
    "slot gacor maxwin hari ini daftar sekarang",
    "situs slot gacor deposit pulsa tanpa potongan",
    "bocoran rtp slot gacor malam ini pasti jackpot",
    "promo togel deposit kecil wd cepat",
]
TOXIC = ["dasar goblok kamu bodoh", "anjing lu bangsat diam", "tolol banget idiot semua"]
HAM = [
    "pemerintah harus memperbaiki jalan rusak",
    "terima kasih atas beritanya sangat bermanfaat",
    "semoga banjir cepat surut",
    "harga beras naik lagi mohon diperhatikan",
    "pertandingan tadi malam seru sekali",
]
TEXTS = SPAM + TOXIC + HAM
LABELS = {
    "spam": [1] * 4 + [0] * 8,
    "toxic": [0] * 4 + [1] * 3 + [0] * 5,
    "gambling": [1, 1, None, 1] + [None] * 8,  # unknown rows are ignored by that head
}


@pytest.fixture(scope="module")
def model() -> TextModel:
    return fit_text_model(TEXTS, LABELS, seed=0)


def test_heads_and_probabilities(model: TextModel) -> None:
    assert model.heads == ("spam", "toxic", "gambling")
    scores = model.predict_scores(["slot gacor maxwin", "dasar goblok", "berita yang bagus", ""])
    assert len(scores) == 4
    for row in scores:
        assert set(row) == set(model.heads)
        assert all(0.0 <= v <= 1.0 and isinstance(v, float) for v in row.values())
    assert scores[0]["spam"] > scores[2]["spam"]
    assert scores[1]["toxic"] > scores[2]["toxic"]
    assert model.predict_scores([]) == []


def test_batch_equals_single(model: TextModel) -> None:
    texts = ["slot gacor", "semoga banjir surut"]
    batch = model.predict_scores(texts)
    for t, b in zip(texts, batch):
        assert model.predict_scores([t])[0] == pytest.approx(b)


def test_explain_returns_the_spam_word_in_original_form(model: TextModel) -> None:
    expl = model.explain("Ayo main 𝐒𝐋𝐎𝐓 𝐆𝐀𝐂𝐎𝐑 sekarang", "spam", top_k=3)
    assert expl and len(expl) <= 3
    texts = [e["text"] for e in expl]
    assert "𝐆𝐀𝐂𝐎𝐑" in texts or "𝐒𝐋𝐎𝐓" in texts
    weights = [e["weight"] for e in expl]
    assert all(w > 0 for w in weights) and weights == sorted(weights, reverse=True)
    assert model.explain("", "spam") == []
    with pytest.raises(KeyError):
        model.explain("x", "nope")


def test_explain_spaced_letters_map_back_to_span(model: TextModel) -> None:
    expl = model.explain("ayo S L O T gacor", "spam")
    assert any(e["text"] in ("S L O T", "gacor") for e in expl)


def test_single_class_head_and_weights() -> None:
    m = fit_text_model(TEXTS, {"spam": LABELS["spam"], "toxic": [0] * len(TEXTS)},
                       sample_weight=np.ones(len(TEXTS)), seed=1)
    s = m.predict_scores(["anything"])[0]
    assert 0.0 <= s["toxic"] < 0.5
    assert m.explain("anything", "toxic") == []


def test_label_length_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError):
        fit_text_model(["a", "b"], {"spam": [1]})
