"""Reader-facing messages in English and Indonesian; chosen from Accept-Language."""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "invalid_submission": "The comment could not be accepted; please correct the marked fields.",
        "required": "This field is required.",
        "too_long": "This field is too long (at most {limit}).",
        "invalid": "This value is not valid.",
        "invalid_characters": "This field contains characters that are not allowed (control characters).",
        "invalid_email": "Please enter a valid email address.",
        "invalid_url": "Please enter a web address starting with http:// or https://.",
        "invalid_ip": "This is not a valid IP address.",
        "invalid_datetime": "Use an RFC 3339 date and time, e.g. 2026-11-25T10:00:00Z.",
        "invalid_type": "This field must be {expected}.",
        "parent_not_found": "The comment you are replying to does not exist on this article.",
        "unknown_field": "Unknown field.",
    },
    "id": {
        "invalid_submission": "Komentar tidak dapat diterima; perbaiki kolom yang ditandai.",
        "required": "Kolom ini wajib diisi.",
        "too_long": "Isian kolom ini terlalu panjang (maksimal {limit}).",
        "invalid": "Nilai ini tidak valid.",
        "invalid_characters": "Kolom ini berisi karakter yang tidak diizinkan (karakter kontrol).",
        "invalid_email": "Masukkan alamat email yang valid.",
        "invalid_url": "Masukkan alamat situs yang diawali http:// atau https://.",
        "invalid_ip": "Alamat IP tidak valid.",
        "invalid_datetime": "Gunakan tanggal dan waktu RFC 3339, mis. 2026-11-25T10:00:00Z.",
        "invalid_type": "Kolom ini harus berupa {expected}.",
        "parent_not_found": "Komentar yang Anda balas tidak ada di artikel ini.",
        "unknown_field": "Kolom tidak dikenal.",
    },
}

SUPPORTED = ("en", "id")


def pick_language(accept_language: str | None) -> str:
    """Best supported language from an Accept-Language header (q-values honoured); English otherwise."""
    if not accept_language:
        return "en"
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")[:20]):
        piece = part.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary == "in":  # the old ISO code for Indonesian, still sent by some Java/Android clients
            primary = "id"
        if primary in SUPPORTED and quality > 0:
            choices.append((-quality, index, primary))
    return min(choices)[2] if choices else "en"


def message(lang: str, key: str, **params: object) -> str:
    table = MESSAGES.get(lang, MESSAGES["en"])
    return table.get(key, MESSAGES["en"][key]).format(**params)
