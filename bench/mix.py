"""The realistic request mix for the throughput benchmark: what a news site's backend forwards to us.

Indonesian and English news comments, long comments, insults, and judol (online gambling) spam hidden
behind styled Unicode letters and leetspeak. Every body has a fresh author name and e-mail (the token
``@N@`` is replaced by a unique number per request), so the duplicate and flood checks pass and every
request really is scored and stored.
"""

from __future__ import annotations

import json
import random

TOKEN = "@N@"

ARTICLES = [
    "2026/11/25/banjir-jakarta", "2026/11/25/harga-beras", "2026/11/24/timnas-u23", "2026/11/24/pilkada",
    "2026/11/23/kereta-cepat", "2026/11/23/gempa-cianjur", "2026/11/22/ekonomi-digital",
]
INDONESIAN = [
    "Pemerintah harus segera memperbaiki jalan rusak di desa kami, sudah bertahun-tahun tidak diperhatikan.",
    "Terima kasih atas beritanya, sangat bermanfaat untuk warga.",
    "Semoga korban banjir cepat mendapat bantuan dan bisa kembali ke rumah.",
    "Harga beras naik terus, petani juga tidak sejahtera. Mohon perhatian pemerintah.",
    "Timnas main bagus tadi malam, semoga lolos ke piala dunia!",
    "Kapan jadwal vaksinasi berikutnya di kecamatan kami? Puskesmas belum ada info.",
    "Saya setuju dengan penulis, pendidikan di daerah harus jadi prioritas utama.",
    "Kereta cepat memang nyaman tapi tiketnya masih mahal untuk pekerja biasa.",
    "Mantap, akhirnya ada berita yang berimbang soal pilkada ini.",
]
ENGLISH = [
    "Great article, thanks for the clear explanation of the new regulation.",
    "I visited Bandung last month and the traffic was exactly as described here.",
    "Does anyone know whether the new train schedule applies on weekends too?",
]
TOXIC = [
    "Dasar goblok, otak udang lu, ngomong aja nggak becus",
    "anjing lu bangsat, mending diam aja daripada nyebar hoaks",
    "tolol banget komentatornya, idiot semua di sini",
]
SPAM = [
    "Sejak pagi tadi kami mengunjungi ✌𝗔𝗟𝗘𝗫𝗜𝗦𝟭𝟳✌ dan langsung maxwin!",
    "𝐒𝐋𝐎𝐓 𝐆𝐀𝐂𝐎𝐑 hari ini cuma di P͟U͟L͟A͟U͟W͟I͟N͟ wd cepat",
    "main di s.l.o.t g4c0r 88 pasti jp, daftar di gacor88 sekarang juga",
    "Ⓢⓛⓞⓣ ⓖⓐⓒⓞⓡ deposit pulsa tanpa potongan, bonus new member 100%",
]


def _long_comment(rng: random.Random) -> str:
    """A reader's essay: 2–6 KB of ordinary sentences (the expensive end of featurisation)."""
    parts = [rng.choice(INDONESIAN + ENGLISH) for _ in range(rng.randint(20, 60))]
    return " ".join(parts)


def templates(n: int = 400, seed: int = 12) -> list[str]:
    """``n`` JSON bodies with ``@N@`` where the unique author number goes; the mix is fixed by ``seed``.

    Roughly: 55% Indonesian, 10% English, 10% long, 10% insults, 15% styled judol spam.
    """
    rng = random.Random(seed)
    out = []
    for i in range(n):
        r = rng.random()
        if r < 0.55:
            content = rng.choice(INDONESIAN)
        elif r < 0.65:
            content = rng.choice(ENGLISH)
        elif r < 0.75:
            content = _long_comment(rng)
        elif r < 0.85:
            content = rng.choice(TOXIC)
        else:
            content = rng.choice(SPAM)
        # A small suffix so the texts differ (no cache of whole texts can help).
        content = f"{content} {rng.randint(1, 999)}" if rng.random() < 0.5 else content
        body = {
            "article_id": rng.choice(ARTICLES),
            "author_name": f"Pembaca {TOKEN}",
            "author_email": f"pembaca{TOKEN}@example.co.id",
            "content": content,
            "user_agent": "Mozilla/5.0 (Linux; Android 14) Chrome/131.0 Mobile",
        }
        if i % 3 == 0:
            body["author_url"] = "https://blog.example.id/tentang"
        out.append(json.dumps(body, ensure_ascii=False))
    return out


def bodies(templates_: list[str], start: int, count: int) -> list[bytes]:
    """Concrete request bodies numbered ``start`` .. ``start + count - 1`` (each a new author)."""
    return [templates_[i % len(templates_)].replace(TOKEN, str(i)).encode("utf-8") for i in range(start, start + count)]
