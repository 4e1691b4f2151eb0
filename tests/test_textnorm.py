"""The shared normaliser: every obfuscation trick, placeholders, and hypothesis properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moderation.textnorm import contains_term, find_urls, normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("𝐒𝐋𝐎𝐓 𝐆𝐀𝐂𝐎𝐑", "slot gacor"),  # math bold
        ("𝗦𝗟𝗢𝗧 𝘨𝘢𝘤𝘰𝘳", "slot gacor"),  # math sans bold / italic
        ("ＰＵＬＡＵ７７７", "pulau777"),  # full-width
        ("ⓢⓛⓞⓣ", "slot"),  # circled
        ("🅢🅛🅞🅣 🆂🅻🅾🆃", "slot slot"),  # negative circled / squared
        ("⒮⒧⒪⒯", "slot"),  # parenthesised
        ("【H】【o】【k】【i】", "hoki"),  # bracketed
        ("9️⃣9️⃣", "99"),  # keycap digits
        ("P͟U͟L͟A͟U͟W͟I͟N͟", "pulauwin"),  # combining double underline
        ("K̲U̲S̲U̲M̲A̲T̲0̲T̲0̲", "kusumatoto"),  # combining underline + leet
        ("s̶l̶o̶t̶", "slot"),  # strikethrough
        ("AЕR𝐎𝟴𝟴", "aero88"),  # Cyrillic Е
        ("ΡΟΚΕR", "poker"),  # Greek
        ("ꜱʟᴏᴛ", "slot"),  # small capitals
        ("s\u200bl\u200co\u200dt\ufeff", "slot"),  # zero-width
        ("S L O T", "slot"),
        ("s.l.o.t", "slot"),
        ("L-I-V-E-S-L-0-T-3-6-5", "liveslot365"),
        ("A L E X I S 1 7", "alexis17"),
        ("g4c0r m4xw1n sl0t", "gacor maxwin slot"),
        ("$lot gacor", "slot gacor"),
        ("gacoooooor!!!!", "gacor!"),
        ("JACKPOT", "jackpot"),
        ("maaf mantaaaap", "maaf mantap"),
    ],
)
def test_obfuscation_tricks(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Tahun 2024 harga Rp 15.000", "tahun 2024 harga rp 15.000"),  # numbers and prices stay
        ("jam 20:16 covid19 4g", "jam 20:16 covid19 4g"),
        ("cek https://gacor88.com/daftar sekarang", "cek urltoken sekarang"),
        ("cek bit.ly/abc dan gacor88.com", "cek urltoken dan urltoken"),
        ("hubungi 0812-3456-7890 atau +62 812 3456 7890", "hubungi phonetoken atau phonetoken"),
        ("kirim ke budi@example.com", "kirim ke emailtoken"),
        ("@budi_santoso setuju", "mentiontoken setuju"),
        ("RT USER: lihat URL", "rt mentiontoken : lihat urltoken"),
        ("", ""),
        ("   \n\t ", ""),
    ],
)
def test_placeholders_and_kept_text(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_styled_url_is_found_and_replaced() -> None:
    assert normalize("𝐠𝐚𝐜𝐨𝐫𝟖𝟖.𝐜𝐨𝐦") == "urltoken"
    assert find_urls("𝐠𝐚𝐜𝐨𝐫𝟖𝟖.𝐜𝐨𝐦") == ["gacor88.com"]


def test_find_urls() -> None:
    text = "cek bit.ly/xx, https://a.b.id/p?q=1 dan www.foo.org serta gacor88.com. Email a@b.com bukan link."
    assert find_urls(text) == ["bit.ly/xx", "https://a.b.id/p?q=1", "www.foo.org", "gacor88.com"]
    assert find_urls("tidak ada tautan di sini. Sip.") == []


def test_contains_term() -> None:
    norm = normalize("Dasar 𝐀𝐍𝐉𝐈𝐍𝐆 lu")
    assert contains_term(norm, "anjing")
    assert contains_term(norm, "ANJING")
    assert not contains_term(normalize("anjingnya lucu"), "anjing")
    assert contains_term(normalize("main S L O T yuk"), "slot")
    assert contains_term(normalize("pola gacor hari ini"), "pola gacor")
    assert not contains_term(normalize("apa saja"), "")


def test_very_long_input_is_fast_enough() -> None:
    text = "𝐒𝐋𝐎𝐓 gacor " * 5000
    assert normalize(text).startswith("slot gacor")


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=200))
def test_never_raises_and_idempotent(text: str) -> None:
    once = normalize(text)
    assert isinstance(once, str)
    assert normalize(once) == once


_TRICKY = st.text(alphabet=st.sampled_from(list("ab sl0t134@$.-_ :/USERL\u200b\u0332𝐒ＰⓢАαİß!oo wcm.id")), max_size=40)


@settings(max_examples=1000, deadline=None)
@given(_TRICKY)
def test_idempotent_on_obfuscation_alphabet(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=100))
def test_helpers_never_raise(text: str) -> None:
    assert isinstance(find_urls(text), list)
    assert contains_term(normalize(text), text) in (True, False)


def test_non_string_input() -> None:
    assert normalize(None) == ""  # type: ignore[arg-type]
    assert normalize(123) == "123"  # type: ignore[arg-type]
