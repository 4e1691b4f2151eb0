"""Evidence features, brand indicators, word lists in the artefact, and the protocol's brand-grouped folds."""

from __future__ import annotations

import ftfy.bad_codecs  # noqa: F401 - registers sloppy-windows-1252 for a test input
import pytest

from moderation.artefacts import model_files, parse_model_files
from moderation.features import Lexicons, evidence_features, is_brand_shaped, text_features
from moderation.textnorm import normalize, repair_encoding
from training.datasets import Record, _labels, group_key
from training.pipelines import fit_text_model
from training.protocol import audit, brand_folds, brand_tokens


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("itâ€™s oke", "it’s oke"),  # UTF-8 read as cp1252 (ftfy)
        ("‚Å£slot‚Å£ gacor", "slot gacor"),  # Mac Roman U+2063 between words
        ("\ud412\ud40b\ud40e\ud413 gacor", "slot gacor"),  # mathematical bold shifted into Hangul syllables
        ("안녕하세요 teman", "안녕하세요 teman"),  # real Korean stays
        ("m41n di 73mp47 ini", "main di tempat ini"),  # multi-digit leet inside words
        ("alexis17 pulau777 10rb 2jt covid19", "alexis17 pulau777 10rb 2jt covid19"),  # brand/price digits stay
        ("slot\u2063gacor\u2063maxwin", "slot gacor maxwin"),  # U+2063 invisible separator between words
        ("main di ambil4d dan visi4d2", "main di ambil4d dan visi4d2"),  # the togel 4D suffix is no leetspeak
        ("selain ᑭᑌᒪᗩᑌᗯIᑎ", "selain pulauwin"),  # Canadian syllabics as capitals
        ("ᥲ⍴ᥲsіһ ᑲіkіᥒ ᥆rᥲᥒg", "apasih bikin orang"),  # Tai Le / Limbu / APL small letters
        ("ᆢAᆢᆢLᆢᆢEᆢᆢXᆢᆢIᆢᆢSᆢᆢ1ᆢᆢ7ᆢ", "alexis17"),  # Hangul jamo as a decorative separator
        ("Mantap 🤤".encode().decode("mac_roman"), "mantap 🤤"),  # Mac Roman beyond U+20xx (emoji)
        ("P͟U͟L͟A͟U͟W͟I͟N͟".encode().decode("sloppy-windows-1252"), "pulauwin"),  # marks as windows-1252
    ],
)
def test_normaliser_repairs(raw: str, expected: str) -> None:
    assert normalize(raw) == expected
    assert normalize(normalize(raw)) == normalize(raw)


def test_lossy_cp1252_mojibake_is_repaired() -> None:
    # strict cp1252 with errors="replace" loses the byte 0x9D of every mathematical letter (F0 9D ..) to U+FFFD
    def lossy(s: str) -> str:
        return s.encode("utf-8").decode("cp1252", errors="replace")

    raw = "Main di 𝐊𝐔𝐒𝐔𝐌𝐀𝐓𝐎𝐓𝐎 sekarang ⚡️ gacor"
    assert "\ufffd" in lossy(raw) and "kusumatoto" not in lossy(raw)  # what the trick does to the bytes
    assert normalize(lossy(raw)) == normalize(raw) == "main di kusumatoto sekarang ⚡ gacor"
    assert normalize(lossy("𝗦𝗟𝗢𝗧 𝗚𝗔𝗖𝗢𝗥 ＰＵＬＡＵ７７７ 🔥")) == "slot gacor pulau777 🔥"
    # where several bytes of one letter are lost, candidates tie and the more frequent Indonesian letter wins:
    # 𝐀 (F0 9D 90 80) is right, 𝐏 (F0 9D 90 8F, three bytes lost) is guessed as 𝐍; the other letters are exact
    assert normalize(lossy("𝐀𝐋𝐄𝐗𝐈𝐒𝟏𝟕")) == "alexis17"
    assert normalize(lossy("𝐏𝐔𝐋𝐀𝐔𝐖𝐈𝐍")) == "nulauwin"
    assert normalize("harga naik �") == "harga naik �"  # a lone U+FFFD outside any sequence stays
    for real in ("São Paulo, Ñoño, AÕüx", "crème brûlée — “oke”", "Ça va? Ü€"):  # accented text is no mojibake
        assert repair_encoding(real) == real


def test_evidence_sees_what_the_normaliser_erases() -> None:
    styled = evidence_features("Main di 𝐏𝐔𝐋𝐀𝐔𝐖𝐈𝐍 pasti jp")
    assert "e styled" in styled and "e styled>=3" in styled and "e caps" in styled  # caps seen through styling
    assert "e marks>=3" in evidence_features("K̲U̲S̲U̲M̲A̲T̲0̲T̲0̲")
    assert "e zero_width>=3" in evidence_features("s\u200bl\u200bo\u200bt")
    assert "e mixed_script" in evidence_features("AЕR𝐎𝟴𝟴")
    assert "e spaced" in evidence_features("daftar A L E X I S 1 7")
    assert evidence_features("Semoga banjir cepat surut, harga beras turun.") == []
    assert evidence_features("café naïve") == []  # accents are not styling


def test_brand_indicator_skips_common_tokens_and_reduplication() -> None:
    assert is_brand_shaped("gacor88") and is_brand_shaped("pulauwin") and not is_brand_shaped("anak2")
    lx = Lexicons(common_tokens=frozenset({"covid19"}))
    assert lx.chunk_extras("alexis17") == ["e brand"]
    assert lx.chunk_extras("covid19") == [] and lx.chunk_extras("rp") == []
    lx = Lexicons(abusive=frozenset({"goblok"}), slang={"gk": "tidak", "gblk": "goblok"})
    assert lx.chunk_extras("gk") == ["s tidak"]
    assert lx.chunk_extras("gblk") == ["s goblok", "e abusive_lexicon"]


def test_word_lists_survive_the_artefact_and_scoring_matches_training() -> None:
    lx = Lexicons(common_tokens=frozenset({"covid19"}), abusive=frozenset({"goblok"}), slang={"gk": "tidak"})
    texts = ["𝐒𝐋𝐎𝐓 𝐆𝐀𝐂𝐎𝐑 alexis17 maxwin", "daftar pulau777 jp terus", "gk tahu harga beras", "dasar goblok lu",
             "semoga banjir surut", "covid19 naik lagi", "SLOT gacor88 wd", "terima kasih beritanya"]
    labels = {"spam": [1, 1, 0, 0, 0, 0, 1, 0], "toxic": [0, 0, 0, 1, 0, 0, 0, 0]}
    m = fit_text_model(texts, labels, lexicons=lx, calib_folds=0)
    assert "e styled" in m.vocab and "e brand" in m.vocab and "s tidak" in m.vocab
    back = parse_model_files(model_files(m))
    assert back.lexicons == m.lexicons
    X = back.transform(texts)
    for i, t in enumerate(texts):  # serving's cached featurisation = training's feature strings
        row = set(X[i].indices)
        assert row == {m.vocab[f] for f in text_features(t, lx) if f in m.vocab}
    s1 = back.predict_scores([texts[0]])[0]
    sb = back.predict_scores(texts[:2])[0]
    assert s1 == pytest.approx(sb, abs=1e-6)
    assert back.explain(texts[0], "spam") and all(e["weight"] > 0 for e in back.explain(texts[0], "spam"))


def _rec(text: str, spam: int) -> Record:
    norm = normalize(text)
    return Record(text, "id", "judol-yt-gbennnn", "comment", _labels(spam=spam), norm=norm, group=group_key(norm),
                  sources={"judol-yt-gbennnn"})


def test_brand_folds_keep_each_brand_in_one_fold() -> None:
    recs = [_rec(f"main di {b} gacor {i}", 1) for i, b in enumerate(
        ["alexis17", "alexis17 pulau777", "pulau777", "sgi88", "sgi88", "dora77", "koislot", "tera4d", "tera4d"])]
    recs += [_rec(f"berita bagus nomor {i} hari ini", 0) for i in range(20)]
    lx, brands = Lexicons(), frozenset({"koislot"})
    folds = brand_folds(recs, lx, brands, k=3)
    assert folds[0] == folds[1] == folds[2]  # linked through "alexis17 pulau777"
    assert folds[3] == folds[4] and folds[7] == folds[8]
    for f in range(3):
        test = set().union(*(brand_tokens(r, lx, brands) for r, g in zip(recs, folds) if g == f and r.labels["spam"]))
        train = set().union(*(brand_tokens(r, lx, brands) for r, g in zip(recs, folds) if g != f and r.labels["spam"]))
        assert not test & train


def test_audit_flags_disguised_ads_among_normal_rows() -> None:
    rows = [_rec("makasih infonya, main di koislot gacor", 0), _rec("slot gacor maxwin depo receh", 0),
            _rec("semoga banjir cepat surut", 0), _rec("dasar goblok pejabatnya", 0)]
    out = audit({"normal": rows}, frozenset({"koislot"}), frozenset({"goblok"}))["normal"]
    assert out["n"] == 4 and out["suspect"] == 3
    assert out["by_reason"]["names a known judol brand"] == 1 and out["by_reason"]["abusive-lexicon word"] == 1


def test_false_holds_count_known_labels_and_compare_like_for_like() -> None:
    import numpy as np

    from training.protocol import false_holds

    def row(text: str, source: str, spam: int | None, toxic: int | None) -> Record:
        return Record(text, "id", source, "comment", {"spam": spam, "toxic": toxic, "toxic_orig": toxic}, norm=normalize(text))

    # tweets: 4 news-like rows (2 held by toxic) and 4 other rows (3 held); YouTube ham: 1 news-like and 12 other
    # rows, none held; one more news-like tweet is an ad without a spam label, held by spam: no normal comment held
    recs = ([row(f"pemerintah harus adil {i}", "tweets", 0, 0) for i in range(4)]
            + [row(f"cuaca hari ini cerah {i}", "tweets", 0, 0) for i in range(4)]
            + [row("harga beras naik lagi", "yt", 0, 0)]
            + [row(f"lagu ini enak sekali {i}", "yt", 0, 0) for i in range(12)]
            + [row("harga promo togel212 hubungi kami", "tweets", None, 0)])
    toxic = [0.9, 0.9, 0, 0] + [0.9, 0.9, 0.9, 0] + [0.0] * 13 + [0.0]
    spam = [0.0] * 21 + [0.99]
    out = false_holds(recs, np.array([spam, toxic]).T, ["spam", "toxic"], {"spam": 0.5, "toxic": 0.5},
                      frozenset(), frozenset())
    news = out["news-like (political/economic), all sources"]
    assert news["n"] == 6 and news["held"] == round(2 / 6, 4) and news["held_by_spam"] == 0.0  # the ad is not counted
    assert out["other normal rows, same sources"]["held"] == round(3 / 16, 4)  # pooled: news-like looks worse
    like = out["other normal rows, weighted to the news-like source mix"]
    assert like["source_mix"] == {"tweets": round(5 / 6, 4), "yt": round(1 / 6, 4)}
    assert like["held"] == round(5 / 6 * 0.75, 4)  # like for like: news-like is held less often


def test_augment_copies_and_the_optional_mojibake_copy() -> None:
    from training.recipe import augment, lossy_cp1252

    spam = _rec("Main di 𝐏𝐔𝐋𝐀𝐔𝐖𝐈𝐍 pasti jp", 1)
    plain_spam = _rec("slot gacor hari ini", 1)
    texts = [r.text for r in augment([spam, plain_spam], seed=0, normal_share=0.0)]
    assert "Main di PULAUWIN pasti jp" in texts  # the de-styled copy
    assert lossy_cp1252(spam.text) not in texts
    with_moji = augment([spam, plain_spam], seed=0, normal_share=0.0, mojibake=True)
    moji = [r for r in with_moji if "\ufffd" in r.text]
    assert [r.text for r in moji] == [lossy_cp1252(spam.text)]  # ASCII rows need no mojibake copy
    assert moji[0].labels["spam"] == 1 and moji[0].group == spam.group and moji[0].weight == spam.weight * 0.5
    assert normalize(moji[0].text).endswith("pasti jp")
