"""Keyed author hashes: matching on HMACs of the normalised e-mail and IP, which outlive the raw IP."""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
import stat
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from moderation.author_hashes import AuthorHasher
from moderation.domain import Role
from moderation.appkeys import AUTHOR_HASHER, STORE
from moderation.policy import Policy, PolicyBook
from moderation.settings import Settings, SettingsError

from .conftest import Api, FakeClock, MakeApi, valid_comment

SECRET = "rahasia-operator-yang-panjang-sekali"


def db_rows(settings: Settings, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(settings.effective_database_url.removeprefix("sqlite:///")) as conn:
        return conn.execute(sql).fetchall()


def test_hashes_are_keyed_and_see_through_spelling() -> None:
    hasher = AuthorHasher(SECRET.encode())
    assert hasher.email("Budi@Example.CO.ID") == hasher.email("budi@example.co.id")
    assert hasher.ip("::ffff:203.0.113.9") == hasher.ip("203.0.113.9") != hasher.ip("203.0.113.10")
    assert hasher.ip(None) is None
    # Not a plain hash anyone could recompute from a list of addresses, and another key gives others.
    assert hasher.email("budi@example.co.id") != hashlib.sha256(b"budi@example.co.id").hexdigest()
    expected = hmac.new(SECRET.encode(), b"email\0budi@example.co.id", hashlib.sha256).hexdigest()
    assert hasher.email("budi@example.co.id") == expected
    assert AuthorHasher(b"x" * 32).email("budi@example.co.id") != expected
    assert "rahasia" not in repr(hasher)
    with pytest.raises(SettingsError):
        AuthorHasher(b"short")


def test_the_secret_comes_from_the_environment_or_a_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n", encoding="utf-8")
    assert str(Settings.from_env({"MODERATION_HASH_SECRET_FILE": str(secret_file)}).hash_secret) == SECRET
    assert str(Settings.from_env({"MODERATION_HASH_SECRET": SECRET}).hash_secret) == SECRET
    assert "rahasia" not in repr(Settings.from_env({"MODERATION_HASH_SECRET": SECRET}))
    for env in ({"MODERATION_HASH_SECRET": "short"},
                {"MODERATION_HASH_SECRET": SECRET, "MODERATION_HASH_SECRET_FILE": str(secret_file)},
                {"MODERATION_HASH_SECRET_FILE": str(tmp_path / "missing")}):
        with pytest.raises(SettingsError, match="MODERATION_HASH_SECRET"):
            Settings.from_env(env)


async def test_without_a_secret_the_data_directory_keeps_one_private_and_stable(make_api: MakeApi,
                                                                                settings: Settings) -> None:
    first = await make_api(settings)
    path = settings.data_dir / "hash-secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(path.read_bytes()) >= 32
    second = await make_api(settings)  # a restart reads the same secret
    assert first.app[AUTHOR_HASHER].email("a@b.co") == second.app[AUTHOR_HASHER].email("a@b.co")


async def test_the_checks_match_on_hashes_that_outlive_the_raw_ip(make_api: MakeApi, settings: Settings,
                                                                  clock: FakeClock) -> None:
    api = await make_api(replace(settings, hash_secret=SECRET))
    site = await api.key(Role.SITE)
    first = await api.post_comment(valid_comment(author_email="Budi@Example.CO.ID", author_ip="::ffff:203.0.113.9"),
                                   key=site)
    assert first.status == 201
    hasher = AuthorHasher(SECRET.encode())
    [(email_hash, ip_hash, ip)] = db_rows(settings, "SELECT author_email_hash, author_ip_hash, author_ip FROM comments")
    assert (email_hash, ip_hash, ip) == (hasher.email("budi@example.co.id"), hasher.ip("203.0.113.9"), "203.0.113.9")

    # Retention removes the raw IP; the flood check still knows the address through its hash.
    await api.app[STORE].purge_site("kompas-test", ip_before=clock() + timedelta(seconds=1), rejected_before=None,
                                    apply=True, actor="test", now=clock())
    assert db_rows(settings, "SELECT author_ip, author_ip_hash FROM comments") == [(None, ip_hash)]
    clock.advance(1)
    flood = await api.post_comment(valid_comment(author_email="lain@example.com", author_ip="203.0.113.9",
                                                 content="Komentar lain dari alamat yang sama"), key=site)
    assert flood.status == 429 and (await flood.json())["error"]["code"] == "flood"

    clock.advance(20)  # past the flood interval: the same text again is a duplicate, matched on the hash
    again = await api.post_comment(valid_comment(author_email="budi@example.co.id"), key=site)
    assert again.status == 409 and (await again.json())["error"]["code"] == "duplicate_comment"

    # Erasure forgets the hashes too: the same e-mail and text are no longer recognised.
    admin = await api.key(Role.ADMIN)
    resp = await api.client.delete("/v1/authors", json={"author_email": "budi@example.co.id"},
                                   headers={"Authorization": f"Bearer {admin}"})
    assert (await resp.json())["erased"]["comments"] == 1
    assert db_rows(settings, "SELECT author_email_hash, author_ip_hash FROM comments") == [(None, None)]
    clock.advance(20)
    assert (await api.post_comment(valid_comment(author_email="budi@example.co.id"), key=site)).status == 201


async def test_comments_stored_before_the_hashes_get_them_at_start(make_api: MakeApi, settings: Settings) -> None:
    api: Api = await make_api(replace(settings, hash_secret=SECRET,
                                      policy=PolicyBook(default=Policy(flood_interval_seconds=0))))
    assert (await api.post_comment(valid_comment(author_ip="198.51.100.1"))).status == 201
    with sqlite3.connect(settings.effective_database_url.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE comments SET author_email_hash = NULL, author_ip_hash = NULL")
    await make_api(replace(settings, hash_secret=SECRET))  # a restart on the same database
    hasher = AuthorHasher(SECRET.encode())
    assert db_rows(settings, "SELECT author_email_hash, author_ip_hash FROM comments") == [
        (hasher.email("budi.santoso@example.co.id"), hasher.ip("198.51.100.1"))]
