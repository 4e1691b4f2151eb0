"""Every dataset adapter on a tiny sample written in that dataset's real format and encoding quirks."""

from __future__ import annotations

from pathlib import Path

from training.datasets import ADAPTERS, Record, deduplicate, group_key, split_of, load_ibrohim2019_fold


def _write(path: Path, data: str | bytes, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))
    return path


def _load(name: str, folder: Path):
    ld = ADAPTERS[name](folder)
    assert ld.name == name
    assert ld.files and all(len(h) == 64 for h in ld.files.values())
    return ld


def test_judol_yt(tmp_path: Path) -> None:
    _write(tmp_path / "dataset_judol_labelled.csv",
           'comment_id,author,comment_text,label\nUg1,@a-x1,"Mantap 𝐒𝐆𝐈𝟖𝟖 gacor, ""wd"" cepat",1\nUg2,@b,Fobia khodok sini ngumpul,0\n')
    ld = _load("judol-yt-gbennnn", tmp_path)
    assert [r.labels["spam"] for r in ld.records] == [1, 0]
    assert ld.records[0].text == 'Mantap 𝐒𝐆𝐈𝟖𝟖 gacor, "wd" cepat'
    assert ld.records[0].labels["gambling"] == 1 and ld.records[1].labels["toxic"] == 0
    assert ld.records[0].language == "id" and ld.records[0].kind == "comment"


def test_judol_livechat_drops_documented_noise(tmp_path: Path) -> None:
    _write(tmp_path / "youtube_chat_jogja_clean.csv",
           "datetime,author_name,message,cleaned_message,label\n"
           "2024-10-07 08:32:03,A,FREEBET 100RB :fire:WISDOMTOTO:fire:,freebet wisdomtoto,1\n"
           "2024-10-07 08:33:03,B,:fire:ANGKA TERBALIK DI BAYAR:fire:,angka terbalik di bayar,0\n"
           "2024-10-07 08:34:03,C,BLOKIR SLOT,blokir slot,0\n")
    ld = _load("judol-livechat-tribunjogja", tmp_path)
    assert [(r.text.strip(), r.labels["spam"]) for r in ld.records] == [("FREEBET 100RB  WISDOMTOTO", 1), ("BLOKIR SLOT", 0)]
    assert ld.records[0].labels["toxic"] is None


def test_judol_lexicon(tmp_path: Path) -> None:
    _write(tmp_path / "jargon_flags.json", '{\r\n  "flags": ["gacor", "maxwin"],\r\n  "pattern": "(judi|judol|slot)"\r\n}\r\n')
    _write(tmp_path / "jargon_glossary.json", '{"flags": {"gacor": "sering menang"}, "pattern": "x"}')
    ld = _load("judol-lexicon-sentryid", tmp_path)
    assert ld.records == [] and ld.lexicon == ["gacor", "maxwin"]


def test_sms_spam_id(tmp_path: Path) -> None:
    _write(tmp_path / "dataset_sms_spam_v1.csv",
           'Teks,label\r\n"[PROMO] Beli paket Flash, cek tsel.me/x",2\r\nSelamat anda menang hadiah,1\r\nnanti aku pulang,0\r\n')
    ld = _load("sms-spam-id", tmp_path)
    assert [r.labels["spam"] for r in ld.records] == [1, 1, 0]
    assert ld.licence.startswith("CC BY-SA")


def test_ibrohim2019_latin1_and_escapes(tmp_path: Path) -> None:
    header = "Tweet,HS,Abusive,HS_Individual,HS_Group,HS_Religion,HS_Race,HS_Physical,HS_Gender,HS_Other,HS_Weak,HS_Moderate,HS_Strong\r\n"
    rows = ("RT USER: dasar bego lu \\xf0\\x9f\\x98\\x84 caf\xe9',1,1,1,0,0,0,0,0,0,1,0,0\r\n"
            "\"Pak, semoga sehat\\nselalu\",0,0,0,0,0,0,0,0,0,0,0,0\r\n")
    _write(tmp_path / "re_dataset.csv", (header + rows).encode("latin-1"))
    ld = _load("abusive-hs-id-ibrohim2019", tmp_path)
    first, second = ld.records
    assert first.text.startswith("dasar bego lu") and "😄" in first.text and not first.text.endswith("'")
    assert first.labels == {"spam": 0, "toxic": 1, "gambling": 0, "abusive": 1, "hate_speech": 1}
    assert second.text == "Pak, semoga sehat selalu" and second.labels["toxic"] == 0
    # the IndoBERTweet folds are UTF-8 with the same columns
    _write(tmp_path / "indobertweet-folds" / "test0.csv", header + "USER kamu bodoh,1,1,0,0,0,0,0,0,0,0,0,0\n")
    fold = load_ibrohim2019_fold(tmp_path, 0)
    assert fold.records[0].labels["hate_speech"] == 1


def test_ibrohim2018(tmp_path: Path) -> None:
    _write(tmp_path / "re_dataset_three_labels.csv",
           'Label,Tweet\r\n1,cinta monyet USER URL\r\n2,"anjir keren\\nbanget"\r\n3,- basic elo cowok bego ! ! !\'\r\n')
    ld = _load("abusive-id-ibrohim2018", tmp_path)
    assert [r.labels["abusive"] for r in ld.records] == [0, 1, 1]
    assert ld.records[1].text == "anjir keren banget"


def test_netifier_multiline_and_quote_markup(tmp_path: Path) -> None:
    body = ('original_text,source,pornografi,sara,radikalisme,pencemaran_nama_baik\r\n'
            '"[QUOTE=x;1]jabar barokah[/QUOTE]\\n\\nWOI &amp; GOBLOK\r\nlanjut",kaskus,0,0,0,1\r\n'
            '"BIG SALE 1000 followers 30k order via wa",instagram,0,0,0,0\r\n'
            '"cantik banget kak",instagram,0,0,0,0\r\n')
    _write(tmp_path / "train.csv", body)
    _write(tmp_path / "test.csv", body.split("\r\n", 1)[0] + "\r\n" + '"kafir semua",twitter,0,1,0,0\r\n')
    ld = _load("toxicity-id-netifier", tmp_path)
    texts = [r.text for r in ld.records]
    assert "QUOTE" not in texts[0] and "& GOBLOK" in texts[0]
    assert [r.labels["toxic"] for r in ld.records] == [1, 0, 0, 1]
    assert ld.records[1].labels["spam"] is None  # unlabelled commercial spam
    assert ld.records[2].labels["spam"] == 0
    assert ld.records[3].labels["hate_speech"] == 1


def test_kamus_alay(tmp_path: Path) -> None:
    _write(tmp_path / "colloquial-indonesian-lexicon.csv",
           "slang,formal,In-dictionary,context,category1,category2,category3\nwoke,oke,1,woke kak,elongasi,0,0\nwoke,oke,1,x,elongasi,0,0\n")
    ld = _load("kamus-alay", tmp_path)
    assert ld.lexicon == [("woke", "oke")]


def test_sms_spam_en_tsv_without_header(tmp_path: Path) -> None:
    _write(tmp_path / "SMSSpamCollection", 'ham\tOk lar... "Joking" wif u oni &lt;#&gt;\nspam\tFree entry in 2 a wkly comp')
    ld = _load("sms-spam-collection-en", tmp_path)
    assert [r.labels["spam"] for r in ld.records] == [0, 1]
    assert '"Joking"' in ld.records[0].text and "&lt;" not in ld.records[0].text
    assert ld.records[0].language == "en"


def test_youtube_spam_en_strips_bom(tmp_path: Path) -> None:
    _write(tmp_path / "Youtube01-Psy.csv",
           'COMMENT_ID,AUTHOR,DATE,CONTENT,CLASS\nz1,A,2013-11-07T06:20:48,"check out my channel<br />\ufeff",1\nz2,B,2014,i love this song\ufeff,0\n')
    ld = _load("youtube-spam-collection-en", tmp_path)
    assert [r.labels["spam"] for r in ld.records] == [1, 0]
    assert all("\ufeff" not in r.text and "<br" not in r.text for r in ld.records)


def test_davidson(tmp_path: Path) -> None:
    _write(tmp_path / "labeled_data.csv",
           ',count,hate_speech,offensive_language,neither,class,tweet\n0,3,0,0,3,2,!!! RT @maya: As a woman &amp; man\n'
           '1,3,0,3,0,1,you are trash\n2,3,3,0,0,0,hateful text\n')
    ld = _load("hate-offensive-en-davidson", tmp_path)
    assert [r.labels["toxic"] for r in ld.records] == [0, 1, 1]
    assert [r.labels["hate_speech"] for r in ld.records] == [0, 0, 1]
    assert "&amp;" not in ld.records[0].text and "@maya" not in ld.records[0].text
    assert ld.records[0].weight == 0.5


def test_jigsaw(tmp_path: Path) -> None:
    _write(tmp_path / "jigsaw_sample.csv",
           'id,comment_text,toxic,severe_toxic,obscene,threat,insult,identity_hate\n1,"Geez, thanks",0,0,0,0,0,0\n2,you idiot,1,0,0,0,1,0\n')
    _write(tmp_path / "test_examples.csv", "comment_text,toxic,severe_toxic,obscene,threat,insult,identity_hate\nhello,0,0,0,0,0,0\n")
    ld = _load("jigsaw-toxic-en", tmp_path)
    assert [r.labels["toxic"] for r in ld.records] == [0, 1, 0]
    assert ld.records[1].labels["abusive"] == 1


def test_dedup_merges_across_sources_and_groups() -> None:
    from training.datasets import Loaded, _labels

    a = Loaded("a", [Record("𝐒𝐋𝐎𝐓 gacor", "id", "a", "comment", _labels(spam=1))], {}, "x")
    b = Loaded("b", [Record("slot GACOR", "id", "b", "tweet", _labels(spam=0, toxic=1)),
                     Record("lain", "id", "b", "tweet", _labels(toxic=0))], {}, "x")
    recs = deduplicate([a, b])
    assert len(recs) == 2
    assert recs[0].sources == {"a", "b"} and recs[0].labels["spam"] == 1 and recs[0].labels["toxic"] == 1
    template = "sejak pagi tadi kami mengunjungi situs terbaik ini {}"
    assert group_key(template.format("alexis17")) == group_key(template.format("sgi88"))
    assert split_of(recs[0].group) in {"train", "val", "test"}
    assert split_of("same") == split_of("same")
