"""Behavioural examples against the committed models in models/ (no ../shared needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from moderation.artefacts import LoadedModel, load_model

pytestmark = pytest.mark.shipped_models

MODELS = Path(__file__).resolve().parent.parent / "models"

JUDOL_ADS = [
    "Sejak pagi tadi kami mengunjungi ✌𝗔𝗟𝗘𝗫𝗜𝗦𝟭𝟳✌ dan langsung maxwin, mantap!",
    "𝐒𝐋𝐎𝐓 𝐆𝐀𝐂𝐎𝐑 hari ini cuma di 𝐏𝐔𝐋𝐀𝐔𝐖𝐈𝐍, wd berapapun pasti dibayar",
    "Main di K̲U̲S̲U̲M̲A̲T̲0̲T̲0̲ bikin cuan terus, modal receh auto jp",
    "ＰＵＬＡＵ７７７ paling gacor, depo 10rb jadi 2jt",
]
ORDINARY = [
    "Pemerintah harus segera memperbaiki jalan rusak di desa kami.",
    "Terima kasih atas beritanya, sangat bermanfaat untuk warga.",
    "Semoga korban banjir cepat mendapat bantuan dan bisa kembali ke rumah.",
    "Harga beras naik terus, mohon perhatian pemerintah untuk petani.",
    "Timnas bermain bagus tadi malam, semoga lolos ke babak berikutnya.",
    "Kapan jadwal vaksinasi berikutnya di kecamatan kami?",
]
INSULTS = [
    "Dasar goblok, otak udang lu!",
    "anjing lu bangsat, mending diam aja",
    "tolol banget komentatornya, idiot semua",
]


@pytest.fixture(scope="module")
def loaded() -> LoadedModel:
    return load_model(MODELS)


def test_loads_and_has_heads(loaded: LoadedModel) -> None:
    assert {"spam", "toxic"} <= set(loaded.model.heads)
    assert set(loaded.thresholds) >= set(loaded.model.heads)
    assert (MODELS / "CURRENT").read_text().strip() == loaded.version
    assert loaded.manifest["model_format"] == 2  # data files only: no pickle is shipped
    assert not list(MODELS.glob("*/*.joblib"))


@pytest.mark.parametrize("text", JUDOL_ADS)
def test_styled_judol_ad_is_spam(loaded: LoadedModel, text: str) -> None:
    s = loaded.model.predict_scores([text])[0]
    assert s["spam"] >= max(0.8, loaded.thresholds["spam"])
    assert s["toxic"] < loaded.thresholds["toxic"]


def test_brand_token_in_explanation(loaded: LoadedModel) -> None:
    expl = loaded.model.explain(JUDOL_ADS[0], "spam")
    assert expl and all(e["weight"] > 0 for e in expl)
    assert any("𝗔𝗟𝗘𝗫𝗜𝗦" in e["text"] for e in expl[:3]), expl
    expl = loaded.model.explain(JUDOL_ADS[1], "spam")
    assert any(e["text"] in ("𝐆𝐀𝐂𝐎𝐑", "𝐏𝐔𝐋𝐀𝐔𝐖𝐈𝐍,", "𝐏𝐔𝐋𝐀𝐔𝐖𝐈𝐍", "𝐒𝐋𝐎𝐓") for e in expl[:3]), expl


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_comment_is_low(loaded: LoadedModel, text: str) -> None:
    s = loaded.model.predict_scores([text])[0]
    # generic praise ("terima kasih infonya") is a judol testimonial template, so it scores ~0.25: still published
    assert s["spam"] < min(0.4, loaded.thresholds["spam"]), s
    assert s["toxic"] < 0.3, s


@pytest.mark.parametrize("text", INSULTS)
def test_insult_is_toxic(loaded: LoadedModel, text: str) -> None:
    s = loaded.model.predict_scores([text])[0]
    assert s["toxic"] >= loaded.thresholds["toxic"], s
    assert s["spam"] < 0.5


def test_edge_cases(loaded: LoadedModel) -> None:
    scores = loaded.model.predict_scores(["", "   ", "a" * 20000, "😂😂😂"])
    assert all(0.0 <= v <= 1.0 for row in scores for v in row.values())
    assert loaded.model.explain("", "spam") == []
