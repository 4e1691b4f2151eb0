"""The campaign memory of each site: near-duplicate clusters, and signatures learned from moderators.

Spam waves repeat one brand or template hundreds of times. Each incoming comment gets a MinHash of
its normalised text; an in-memory LSH index per site (bounded in size and age) puts it in the
cluster of an earlier near-duplicate, across authors and articles. When moderators reject a
comment as spam, what it contains that marks a campaign becomes a vote for a *signature*: brand
tokens, URLs and domains, phone numbers, and the cluster's template (its MinHash). A signature holds
new comments once ``min_rejections`` rejections by at least ``min_moderators`` moderator keys back
it, net of approvals (each approval of a matching comment cancels ``approval_weight`` rejections);
it expires ``signature_days`` after the last rejection, and a moderator can remove it.

Poisoning: everything is per site (one site's moderators change only that site's memory), and only
moderator decisions vote; readers' reports never do.

Several workers may run: the database is the truth. Each worker's index is rebuilt from the stored
MinHashes the first time it sees a site, and every ``refresh_seconds`` it reads the comments other
workers stored since, and reloads the signatures when the site's ``campaign_version`` changed (one
cheap query). A decision made by this worker invalidates its cache at once.
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
import unicodedata
import zlib
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import structlog
from datasketch import LeanMinHash, MinHash, MinHashLSH  # type: ignore[import-untyped]  # ships no type hints

from .settings import CampaignSettings
from .store import CampaignSignature, SignatureKey, Store
from .textnorm import char_normalize, find_urls, normalize

log = structlog.get_logger(__name__)

NUM_PERM = 64  # 256 bytes per comment; enough for a 0.5 Jaccard threshold on short texts
SHINGLE = 5  # character 5-grams: robust to a changed digit or word in a short template
SIMILARITY = 0.5
MIN_TEMPLATE_CHARS = 20  # "mantap", "setuju pak": too short to call a template
MAX_BRANDS = 6
# Only the start of a comment is fingerprinted: spam templates are short, and this bounds the work done on
# the event loop for a 64 KB comment.
MAX_CHARS = 1000
_SCHEME = "affine32"  # datasketch's default hashing scheme; stored MinHashes are read back with it

_TOKEN = re.compile(r"[a-z0-9]+")
# Brand-shaped: letters then a number (alexis17, weton88, ambil4d), a number then letters (123vegas),
# or a gambling suffix (pulauwin, arwantoto, bantenghoki).
_BRAND = re.compile(
    r"^(?:[a-z]{3,}\d{1,4}[a-z]{0,6}|\d{1,4}[a-z]{4,}|[a-z]{3,}(?:toto|win|hoki|bet|slot|gaming|jitu|spin))$"
)
# Numbers with a unit are amounts, not brands (100rb, 5jt, 2025an, 10persen).
_AMOUNT = re.compile(r"^\d+(?:rb|ribu|k|jt|juta|m|an|x|km|kg|th|thn|tahun|persen|menit|jam|hari)$")
_PHONE = re.compile(r"(?<![\d+])(?:\+?62[\s\-.]?|0)8[\d\s\-.]{7,16}\d|(?<![\d+])\+?\d{10,15}(?!\d)")
_WORD = re.compile(r"(?:[^\W_]|[\u0300-\u036f\u1ab0-\u1aff\u20d0-\u20ff\ufe20-\ufe2f])+")
_GLUED = re.compile(r"^[a-z]+|[a-z]+$")
_STYLED = ("MATHEMATICAL", "FULLWIDTH", "CIRCLED", "SQUARED", "PARENTHESIZED")


def _styled(ch: str) -> bool:
    if ord(ch) < 0x0300:
        return False
    return bool(unicodedata.combining(ch)) or unicodedata.name(ch, "").startswith(_STYLED)


def _styled_runs(content: str) -> list[str]:
    """Words written in styled Unicode letters (𝐒𝐆𝐈𝟖𝟖, ＰＵＬＡＵ, P͟U͟L͟A͟U͟): what ads do to brand names.

    Lower-case ASCII glued on either side is dropped, so "di𝐏𝐔𝐋𝐀𝐔𝐖𝐈𝐍" gives the brand, not "dipulauwin".
    """
    runs = []
    for word in _WORD.findall(content):
        if any(_styled(ch) for ch in word):
            runs.append(_GLUED.sub("", word))
    return runs


def signature_keys(content: str, normalized: str | None = None) -> list[SignatureKey]:
    """Brand tokens, URLs, domains and phone numbers in a comment (no template: that needs its cluster)."""
    normalized = normalize(content) if normalized is None else normalized
    keys: dict[tuple[str, str], None] = {}
    brands: list[str] = []
    for token in _TOKEN.findall(normalized):
        if 4 <= len(token) <= 24 and _BRAND.match(token) and not _AMOUNT.match(token):
            brands.append(token)
    for run in _styled_runs(content):
        brands += [t for t in _TOKEN.findall(normalize(run)) if 6 <= len(t) <= 24 and not t.isdigit()]
    for token in dict.fromkeys(brands):
        if len(keys) >= MAX_BRANDS:
            break
        keys[("brand", token)] = None
    for url in find_urls(content):
        parts = urlsplit(url if "://" in url else f"http://{url}")
        host = (parts.hostname or "").removeprefix("www.")
        if not host:
            continue
        keys[("domain", host)] = None
        path = parts.path.rstrip("/")
        if path:
            keys[("url", f"{host}{path}"[:300])] = None
    for match in _PHONE.finditer(char_normalize(content)):
        digits = re.sub(r"\D", "", match.group(0))
        if digits.startswith("62"):
            digits = "0" + digits[2:]
        if 9 <= len(digits) <= 15:
            keys[("phone", digits)] = None
    return [SignatureKey(kind, value) for kind, value in keys]


@functools.cache
def _template() -> MinHash:
    # Every MinHash of ours uses the same seeded permutations: drawn once, not per comment (the profile
    # showed MinHash._init_permutations at ~6% of a submission).
    return MinHash(num_perm=NUM_PERM, hashfunc=zlib.crc32)


def minhash_of(normalized: str) -> LeanMinHash | None:
    """The MinHash of a normalised text's character shingles; None for texts too short to be a template."""
    text = " ".join(normalized.split())
    if len(text) < MIN_TEMPLATE_CHARS:
        return None
    template = _template()
    m = MinHash(num_perm=NUM_PERM, hashfunc=zlib.crc32, permutations=template.permutations,
                scheme=template.scheme)
    m.update_batch({text[i : i + SHINGLE].encode() for i in range(len(text) - SHINGLE + 1)})
    return LeanMinHash(m)


def minhash_bytes(m: LeanMinHash) -> bytes:
    return np.asarray(m.hashvalues, dtype=np.uint32).tobytes()


def minhash_from_bytes(raw: bytes) -> LeanMinHash:
    return LeanMinHash(seed=1, hashvalues=np.frombuffer(raw, dtype=np.uint32), scheme=_SCHEME)


@dataclass(frozen=True)
class Rules:
    """When a signature holds (from ``CampaignSettings``)."""

    min_rejections: int = 3
    min_moderators: int = 1
    approval_weight: int = 3

    def strength(self, sig: CampaignSignature) -> int:
        return sig.rejections - self.approval_weight * sig.approvals

    def holds(self, sig: CampaignSignature, now: datetime) -> bool:
        return (
            sig.removed_at is None
            and sig.expires_at > now
            and sig.moderators >= self.min_moderators
            and self.strength(sig) >= self.min_rejections
        )

    def explain(self, sig: CampaignSignature, now: datetime) -> str:
        """Why a signature does or does not hold, in a sentence for the moderator."""
        if sig.removed_at is not None:
            return "removed by a moderator"
        if sig.expires_at <= now:
            return "expired"
        backed = (f"{sig.rejections} rejection(s) by {sig.moderators} moderator(s), {sig.approvals} approval(s) "
                  f"(each approval cancels {self.approval_weight})")
        if self.holds(sig, now):
            return f"holds new comments: {backed}"
        return (f"learning: {backed}; holds at {self.min_rejections} net rejection(s) by "
                f"{self.min_moderators} moderator(s)")


def signature_json(sig: CampaignSignature, rules: Rules, now: datetime) -> dict[str, Any]:
    return {
        "id": sig.id, "kind": sig.kind, "value": sig.value, "rejections": sig.rejections,
        "approvals": sig.approvals, "moderators": sig.moderators, "holds": rules.holds(sig, now),
        "explanation": rules.explain(sig, now), "created_at": sig.created_at.isoformat(),
        "updated_at": sig.updated_at.isoformat(), "expires_at": sig.expires_at.isoformat(),
    }


@dataclass(frozen=True)
class Observation:
    """What the memory knows about an incoming comment, before it is stored."""

    minhash: LeanMinHash | None
    keys: tuple[SignatureKey, ...]
    cluster_id: int | None  # the earlier near-duplicate's cluster; None: this comment starts one
    cluster_size: int  # comments of that cluster in the index, this one included
    holding: tuple[CampaignSignature, ...]  # signatures it matches that hold
    rules: Rules = field(default_factory=Rules)

    @functools.cached_property
    def minhash_bytes(self) -> bytes | None:
        # Computed once: the stored row and the index both use it.
        return minhash_bytes(self.minhash) if self.minhash is not None else None


@dataclass
class _Site:
    # The LSH index holds one key per distinct MinHash (its bytes), not one per comment: a wave repeats a
    # template word for word, and with a key per comment every near-duplicate's lookup returned (and counted)
    # the thousands before it (the profile: ~22% of a submission). ``groups`` counts each key's comments by
    # cluster, so the majority below counts the same comments as before.
    lsh: MinHashLSH
    entries: OrderedDict[int, tuple[int, datetime, bytes]] = field(default_factory=OrderedDict)  # id -> (cluster, at, key)
    groups: dict[bytes, Counter[int]] = field(default_factory=dict)  # MinHash bytes -> comments by cluster
    sizes: Counter[int] = field(default_factory=Counter)
    last_id: int = 0  # the newest comment read from the database
    version: int = -1
    checked: float = float("-inf")  # time.monotonic() of the last refresh
    signatures: dict[tuple[str, str], CampaignSignature] = field(default_factory=dict)
    templates: MinHashLSH | None = None  # holding template signatures, by id
    template_by_id: dict[int, CampaignSignature] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _new_lsh() -> MinHashLSH:
    return MinHashLSH(threshold=SIMILARITY, num_perm=NUM_PERM)


class CampaignMemory:
    """Per-site clusters and signatures, cached in this worker, recoverable from the store."""

    REBUILD_PAGE = 5000

    def __init__(self, store: Store, settings: CampaignSettings, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.rules = Rules(settings.min_rejections, settings.min_moderators, settings.approval_weight)
        self.ttl = timedelta(days=settings.signature_days)
        self.max_age = timedelta(days=settings.index_max_days)
        self._sites: dict[str, _Site] = {}

    # -- the request path ----------------------------------------------------------------------------
    async def observe(self, site_id: str, content: str, normalized: str | None = None) -> Observation:
        """Fingerprint a comment, find its cluster and the holding signatures it matches.

        ``normalized``: the comment's normalised text when the caller already has it (saves normalising twice).
        """
        site = await self._fresh(site_id)
        content = content[:MAX_CHARS]
        normalized = normalize(content) if normalized is None else normalized[:MAX_CHARS]
        minhash = minhash_of(normalized)
        keys = tuple(signature_keys(content, normalized))
        cluster_id, size = None, 1
        if minhash is not None:
            cluster_id = _majority([site.groups[g] for g in site.lsh.query(minhash)])
            if cluster_id is not None:
                size = site.sizes[cluster_id] + 1
        now = self.clock()
        holding = [s for k in keys if (s := site.signatures.get((k.kind, k.value))) and self.rules.holds(s, now)]
        if minhash is not None and site.templates is not None:
            for sig_id in site.templates.query(minhash):
                sig = site.template_by_id[sig_id]
                if self.rules.holds(sig, now):
                    holding.append(sig)
        if cluster_id is not None:
            own = site.signatures.get(("template", f"cluster:{cluster_id}"))
            if own is not None and self.rules.holds(own, now):
                holding.append(own)
        unique = tuple({s.id: s for s in holding}.values())
        return Observation(minhash, keys, cluster_id, size, unique, self.rules)

    def remember(self, site_id: str, comment_id: int, observation: Observation, at: datetime) -> None:
        """Add a stored comment to the site's index (its cluster id as stored)."""
        site = self._sites.get(site_id)
        if site is None or observation.minhash is None:
            return
        cluster = observation.cluster_id if observation.cluster_id is not None else comment_id
        key = observation.minhash_bytes
        assert key is not None  # it has a MinHash
        self._add(site, comment_id, cluster, observation.minhash, at, key)

    # -- the decision path ----------------------------------------------------------------------------
    async def learn(self, site_id: str, comment_id: int, content: str, *, action: str, label: str | None,
                    actor: str) -> int:
        """Turn one committed moderator decision into signature votes; returns signatures changed.

        Rejections (and take-downs) labelled spam vote for what the comment contains; approvals weaken
        the signatures it matches. Toxic or other rejections teach nothing here (not a campaign).
        """
        if label is None:
            return 0  # a comment reopened: nobody said what it is
        if action in ("approve", "restore"):  # a rescue in the site's admin is an approval too
            vote = "approve"
        elif action in ("reject", "remove") and label == "spam":
            vote = "reject"
        else:
            return 0
        site = self._sites.get(site_id)
        if vote == "approve" and site is not None:
            site = await self._fresh(site_id)  # signatures this worker just changed are reloaded first
        if vote == "approve" and (site is None or not site.signatures):
            return 0  # nothing to weaken (this worker's view, refreshed every refresh_seconds): no database work
        content = content[:MAX_CHARS]
        keys = signature_keys(content, normalize(content))
        stored = await self.store.comment_campaign(site_id, comment_id)
        if stored is not None and stored[1] is not None:
            keys.append(SignatureKey("template", f"cluster:{stored[0]}", stored[1]))
            if vote == "approve" and site is not None and site.templates is not None:
                # Templates it resembles, whatever cluster they were learned from.
                for sig_id in site.templates.query(minhash_from_bytes(stored[1])):
                    keys.append(SignatureKey("template", site.template_by_id[sig_id].value))
        if vote == "approve" and site is not None:
            keys = [k for k in keys if (k.kind, k.value) in site.signatures]
            if not keys:
                return 0
        changed = await self.store.record_campaign_votes(
            site_id, comment_id, actor=actor, action=vote, label=label, keys=keys, now=self.clock(), ttl=self.ttl
        )
        if changed:
            self.invalidate(site_id)
        return changed

    def invalidate(self, site_id: str) -> None:
        """Reload this site's signatures on its next comment (after a change made by this worker)."""
        site = self._sites.get(site_id)
        if site is not None:
            site.version = -1
            site.checked = float("-inf")

    # -- cache upkeep -----------------------------------------------------------------------------------
    async def _fresh(self, site_id: str) -> _Site:
        site = self._sites.get(site_id)
        if site is None:
            site = self._sites.setdefault(site_id, _Site(lsh=_new_lsh()))
        if time.monotonic() - site.checked < self.settings.refresh_seconds:
            return site
        async with site.lock:
            if time.monotonic() - site.checked < self.settings.refresh_seconds:
                return site  # another request refreshed it while this one waited
            await self._refresh(site_id, site)
        return site

    async def _refresh(self, site_id: str, site: _Site) -> None:
        now = self.clock()
        version = await self.store.campaign_version(site_id)
        if version != site.version:
            signatures = await self.store.list_campaign_signatures(site_id, now=now)
            site.signatures = {(s.kind, s.value): s for s in signatures}
            templates = [s for s in signatures if s.kind == "template" and s.minhash and self.rules.holds(s, now)]
            site.templates = _new_lsh() if templates else None
            site.template_by_id = {s.id: s for s in templates}
            for sig in templates:
                site.templates.insert(sig.id, minhash_from_bytes(sig.minhash), check_duplication=False)  # type: ignore[union-attr, arg-type]
            site.version = version
        # Comments other workers stored since the last look (all of them, the first time: the rebuild).
        since = now - self.max_age
        while True:
            rows = await self.store.campaign_index_rows(site_id, after_id=site.last_id, since=since,
                                                        limit=self.REBUILD_PAGE)
            for row in rows:
                if row.comment_id not in site.entries:
                    self._add(site, row.comment_id, row.cluster_id, minhash_from_bytes(row.minhash), row.created_at,
                              bytes(row.minhash))
            if rows:
                site.last_id = rows[-1].comment_id
            if len(rows) < self.REBUILD_PAGE:
                break
        site.checked = time.monotonic()

    def _add(self, site: _Site, comment_id: int, cluster_id: int, minhash: LeanMinHash, at: datetime,
             key: bytes) -> None:
        if comment_id in site.entries:
            return
        group = site.groups.get(key)
        if group is None:
            group = site.groups[key] = Counter()
            site.lsh.insert(key, minhash, check_duplication=False)
        group[cluster_id] += 1
        site.entries[comment_id] = (cluster_id, at, key)
        site.sizes[cluster_id] += 1
        oldest = at - self.max_age
        while site.entries and (
            len(site.entries) > self.settings.index_max_comments or next(iter(site.entries.values()))[1] < oldest
        ):
            _, (old_cluster, _, old_key) = site.entries.popitem(last=False)
            old_group = site.groups[old_key]
            old_group[old_cluster] -= 1
            if old_group[old_cluster] <= 0:
                del old_group[old_cluster]
                if not old_group:
                    del site.groups[old_key]
                    site.lsh.remove(old_key)
            site.sizes[old_cluster] -= 1
            if site.sizes[old_cluster] <= 0:
                del site.sizes[old_cluster]

    def index_size(self, site_id: str) -> int:
        site = self._sites.get(site_id)
        return len(site.entries) if site else 0


def _majority(groups: Iterable[Counter[int]]) -> int | None:
    """The cluster most candidate comments belong to (the oldest on a tie), from each candidate key's counts."""
    counts: Counter[int] = Counter()
    for group in groups:
        counts.update(group)
    if not counts:
        return None
    return min(counts, key=lambda c: (-counts[c], c))


def _describe(sig: CampaignSignature) -> str:
    if sig.kind == "template":
        return "the template of these comments"
    return f"{sig.kind} “{sig.value}”"


def campaign_details(observation: Observation) -> dict[str, Any]:
    """The reason's structured part: the cluster and the signatures with the decisions behind them."""
    return {
        "cluster_id": observation.cluster_id,
        "cluster_size": observation.cluster_size,
        "signatures": [
            {"id": s.id, "kind": s.kind, "value": s.value, "rejections": s.rejections, "approvals": s.approvals,
             "moderators": s.moderators, "expires_at": s.expires_at.isoformat()}
            for s in observation.holding
        ],
    }


def campaign_message(observation: Observation) -> str:
    parts = [
        f"{_describe(s)} ({s.rejections} rejected by {s.moderators} moderator{'s' if s.moderators != 1 else ''}"
        + (f", {s.approvals} approved" if s.approvals else "") + ")"
        for s in observation.holding
    ]
    cluster = (f"{observation.cluster_size} near-identical comments seen" if observation.cluster_size > 1
               else "a new variant")
    return f"Matches a spam campaign moderators rejected: {'; '.join(parts)} — {cluster}."
