"""The ``moderation`` command: serve, manage keys, try the classifiers.

    moderation serve [--host H] [--port P] [--workers N] [--data-dir DIR] [--models-dir DIR] [--policy FILE]
    moderation keys create --role {site,moderator,admin} --site SITE [--akismet] | --role operator [--data-dir DIR]
    moderation check "some text"
    moderation models list | promote VERSION|latest | rollback   [--models-dir DIR] [--database-url URL]
    moderation migrate-store --from URL --to URL [--batch N] [--allow-non-empty]
    moderation sites set-webhook --site SITE (--url URL | --remove) [--events LIST] [--data-dir DIR]
    moderation authors erase --site SITE --email EMAIL [--data-dir DIR]
    moderation purge [--apply] [--data-dir DIR] [--policy FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import __version__
from .domain import Role, Submission
from .settings import Settings, SettingsError
from .workflow import WEBHOOK_EVENT_TYPES


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="data directory (env MODERATION_DATA_DIR; default ./data)")
    parser.add_argument("--database-url", help="sqlite:///path or postgresql://... (env MODERATION_DATABASE_URL)")
    parser.add_argument("--models-dir", type=Path, help="models directory (env MODERATION_MODELS_DIR)")
    parser.add_argument("--policy", dest="policy_file", type=Path, help="policy TOML file (env MODERATION_POLICY_FILE)")


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moderation", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"moderation {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="start the HTTP service")
    _add_common(serve)
    serve.add_argument("--host", help="interface to listen on (env MODERATION_HOST; default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (env MODERATION_PORT; default 8080)")
    serve.add_argument("--workers", type=_positive, default=1,
                       help="worker processes sharing the port, each with its own model (default 1)")
    # Internal: a worker started by the --workers supervisor serves on the socket it inherited.
    serve.add_argument("--listen-fd", type=int, help=argparse.SUPPRESS)

    keys = commands.add_parser("keys", help="manage API keys")
    key_commands = keys.add_subparsers(dest="key_command", required=True)
    create = key_commands.add_parser("create", help="create an API key and print it once")
    _add_common(create)
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--site", help="the site this key belongs to (every role but operator)")
    create.add_argument("--akismet", action="store_true",
                        help="site keys: also print a 12-hex Akismet alias of the key (for the Akismet plugin)")

    check = commands.add_parser("check", help="print scores and the decision for a text")
    _add_common(check)
    check.add_argument("text", help="the comment text")
    check.add_argument("--site", default="default", help="whose policy to apply")

    models = commands.add_parser("models", help="list, promote and roll back model versions")
    model_commands = models.add_subparsers(dest="model_command", required=True)
    for name, text in (("list", "list versions"), ("promote", "make a version current"),
                       ("rollback", "return to the previous version")):
        sub = model_commands.add_parser(name, help=text)
        sub.add_argument("--models-dir", type=Path, help="models directory (env MODERATION_MODELS_DIR)")
        sub.add_argument("--database-url", help="record the promotion there, so every replica follows it "
                                                "(env MODERATION_DATABASE_URL)")
        if name == "promote":
            sub.add_argument("version", help="a version, or 'latest' for the newest candidate that passed its gate")

    authors = commands.add_parser("authors", help="personal data of one author")
    author_commands = authors.add_subparsers(dest="author_command", required=True)
    erase = author_commands.add_parser("erase", help="anonymise every comment of one e-mail on one site")
    _add_common(erase)
    erase.add_argument("--site", required=True, help="the site whose comments to anonymise")
    erase.add_argument("--email", required=True, help="the author's e-mail address")

    purge = commands.add_parser("purge", help="apply every site's retention (a dry run unless --apply)")
    _add_common(purge)
    purge.add_argument("--apply", action="store_true", help="remove what is past retention (default: only print it)")
    copy = commands.add_parser("migrate-store", help="copy every table between SQLite and PostgreSQL, verified")
    copy.add_argument("--from", dest="source", required=True, help="sqlite:///path or postgresql://...")
    copy.add_argument("--to", dest="target", required=True, help="sqlite:///path or postgresql://...")
    copy.add_argument("--batch", type=_positive, default=1000, help="rows per transaction (default 1000)")
    copy.add_argument("--resume", action="store_true",
                      help="continue an interrupted copy into a target that already holds part of it")
    copy.add_argument("--no-progress", action="store_true", help="no progress bar (logs, CI)")

    sites = commands.add_parser("sites", help="configure a site")
    site_commands = sites.add_subparsers(dest="site_command", required=True)
    webhook = site_commands.add_parser("set-webhook", help="set the site's webhook URL and print a new secret once")
    _add_common(webhook)
    webhook.add_argument("--site", required=True, help="the site to notify")
    target = webhook.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="http(s) URL that receives signed comment.status_changed events")
    target.add_argument("--remove", action="store_true", help="stop sending webhooks to this site")
    webhook.add_argument("--events", help="comma-separated events to send: comment.created, comment.status_changed "
                                          "(default: comment.status_changed)")
    return parser


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
    return Settings.from_env(
        data_dir=args.data_dir,
        database_url=args.database_url,
        models_dir=args.models_dir,
        policy_file=args.policy_file,
        **extra,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from .app import create_app
    from .log import configure_logging

    settings = _settings(args, host=args.host, port=args.port)
    configure_logging(json=settings.log_json)
    import structlog

    if args.workers > 1 and args.listen_fd is None:
        from .workers import supervise

        return supervise(settings, args.workers, _without_workers(args.argv))
    structlog.get_logger("moderation").info(
        "starting", host=settings.host, port=settings.port, data_dir=str(settings.data_dir),
        models_dir=str(settings.models_dir), version=__version__,
    )
    where: dict[str, object] = {"host": settings.host, "port": settings.port}
    if args.listen_fd is not None:
        import socket

        where = {"sock": socket.socket(fileno=args.listen_fd)}
    # run_app stops accepting on SIGTERM/SIGINT and lets in-flight requests finish (shutdown_timeout).
    web.run_app(create_app(settings), shutdown_timeout=30, access_log=None, print=None, loop=new_event_loop(),
                **where)  # type: ignore[arg-type]
    return 0


def _without_workers(argv: Sequence[str]) -> list[str]:
    """The serve options to give each worker: all of them but ``--workers``."""
    out: list[str] = []
    skip = False
    for arg in argv[1:]:  # argv[0] is "serve"
        if skip:
            skip = False
        elif arg == "--workers":
            skip = True
        elif not arg.startswith("--workers="):
            out.append(arg)
    return out


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it exists (a faster event loop, same semantics), else asyncio's own."""
    try:
        import uvloop
    except ImportError:  # Windows
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def cmd_keys_create(args: argparse.Namespace) -> int:
    from .auth import hash_key, new_akismet_alias, new_key
    from .store import open_store

    settings = _settings(args)
    role = Role(args.role)
    site = (args.site or "").strip()
    if role is Role.OPERATOR:
        if site:  # an operator key belongs to no site; accepting one would suggest otherwise
            print("error: an operator key belongs to no site; leave out --site", file=sys.stderr)
            return 2
    elif not site or len(site) > 100:
        print("error: --site must be 1-100 characters", file=sys.stderr)
        return 2

    if args.akismet and role is not Role.SITE:
        print("error: --akismet makes an alias of a site key; use --role site", file=sys.stderr)
        return 2

    async def create() -> str:
        store = open_store(settings.effective_database_url)
        alias = None
        try:
            await store.migrate()
            key = new_key(role)
            now = datetime.now(UTC)
            record = await store.create_api_key(
                site_id=site, role=role, key_hash=hash_key(key), prefix=key[:12], now=now
            )
            if args.akismet:
                alias = new_akismet_alias()
                await store.create_akismet_alias(api_key_id=record.id, alias_hash=hash_key(alias), now=now)
        finally:
            await store.close()
        owner = "the operator" if role is Role.OPERATOR else f"site {site!r}"
        print(f"Created {role.value} key #{record.id} for {owner}. It is shown only once; store it now:")
        if alias is not None:
            # The last line stays the key; the alias works only as an Akismet API key (/1.1/, /1.2/).
            print(f"Akismet API key (alias of this key, for the Akismet plugin only): {alias}")
        return key

    print(asyncio.run(create()))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from .artefacts import ModelError
    from .pipeline.scoring import Scorer
    from .services import assess

    settings = _settings(args)
    policy = settings.policy.for_site(args.site)

    async def check() -> dict[str, object]:
        with ThreadPoolExecutor(1) as executor:
            scorer = Scorer(settings.models_dir, executor)
            try:
                scorer.load()
            except ModelError as exc:
                print(f"warning: no model: {exc}", file=sys.stderr)
            submission = Submission(article_id="check", author_name="check", author_email="check@example.invalid",
                                    content=args.text)
            checked = await assess(scorer, submission, policy, now=datetime.now(UTC))
            verdict = checked.verdict
            return {
                "decision": verdict.decision.value,
                "model": verdict.model_version,
                "scores": verdict.scores,
                "thresholds": checked.scoring.thresholds if checked.scoring else {},
                "reasons": [r.to_json() for r in verdict.reasons],
            }

    print(json.dumps(asyncio.run(check()), ensure_ascii=False, indent=2))
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from .artefacts import ModelError
    from .fleet import PromotionRefused
    from .registry import RegistryError, list_versions, promote, rollback

    settings = Settings.from_env(models_dir=args.models_dir, database_url=args.database_url)
    models_dir = settings.models_dir
    try:
        if args.model_command == "list":
            for info in list_versions(models_dir):
                gate = (info.gate or {}).get("decision", "-")
                print(f"{'*' if info.current else ' '} {info.version:<28} created {info.created_at or '?':<26} gate {gate}")
            return 0
        if settings.database_url:
            version = asyncio.run(_record_in_database(settings, args))
            print(f"Promoted {version} in the database; every replica switches within "
                  f"{settings.fleet.poll_seconds:g} s (MODERATION_MODEL_POLL_SECONDS).")
            return 0
        if args.model_command == "promote":
            version = promote(models_dir, args.version)
        else:
            version = rollback(models_dir)
    except (RegistryError, ModelError, PromotionRefused) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"CURRENT is now {version}. Running services switch on POST /v1/admin/models/reload or SIGHUP.")
    return 0


async def _record_in_database(settings: Settings, args: argparse.Namespace) -> str:
    """Promote or roll back through the database, as ``POST /v1/admin/models/promote|rollback`` do."""
    import getpass
    from concurrent.futures import ThreadPoolExecutor

    from .fleet import ModelFleet
    from .metrics import Metrics
    from .pipeline.scoring import Scorer
    from .store import open_store
    from .store.fleet import open_fleet_store

    store = open_store(settings.effective_database_url, database=settings.database)
    await store.migrate()  # the fleet tables come with migration 0004
    await store.close()
    fleet_store = open_fleet_store(settings.effective_database_url, settings.database)
    await fleet_store.open()
    try:
        with ThreadPoolExecutor(1) as executor:
            scorer = Scorer(settings.models_dir, executor)  # never loaded: the CLI serves nothing
            fleet = ModelFleet(fleet_store, scorer, settings.fleet, Metrics(), clock=lambda: datetime.now(UTC),
                               on_switch=lambda previous, version: None)
            fleet.sync_local = False
            actor = f"cli:{getpass.getuser()}"
            if args.model_command == "promote":
                promotion = await fleet.promote(args.version, actor=actor)
            else:
                promotion = await fleet.rollback(actor=actor)
    finally:
        await fleet_store.close()
    return promotion.version


def cmd_migrate_store(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .store.migrate import MigrationError, migrate_store

    bars: dict[str, Any] = {}

    def progress(table: str, done: int, total: int) -> None:
        if args.no_progress:
            return
        bar = bars.get(table)
        if bar is None:
            bar = bars[table] = tqdm(total=total, desc=f"{table:<22}", unit="row", file=sys.stderr, leave=True)
        bar.update(done - bar.n)

    database = Settings.from_env().database
    try:
        report = asyncio.run(migrate_store(args.source, args.target, batch=args.batch, resume=args.resume,
                                           database=database, progress=progress))
    except (MigrationError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        for bar in bars.values():
            bar.close()
    for entry in report.tables:
        verdict = "ok" if entry.verified else "MISMATCH"
        print(f"{entry.table:<22} {entry.source_rows:>9} -> {entry.target_rows:>9} rows  "
              f"copied {entry.copied:>9}  sha256 {entry.target_sha256[:16]}  {verdict}")
    if not report.verified:
        print("error: the copy does not match its source (was the source written to meanwhile?)", file=sys.stderr)
        return 1
    print(f"Copied and verified {len(report.tables)} tables.")
    return 0


def cmd_sites_set_webhook(args: argparse.Namespace) -> int:
    from .errors import ValidationFailed
    from .store import open_store
    from .webhook_targets import check_url
    from .webhooks import new_secret

    settings = _settings(args)
    try:
        url = None if args.remove else asyncio.run(check_url(args.url, settings.webhook_targets))
    except ValidationFailed as exc:
        reasons = "; ".join(p["message"] for p in exc.public.get("fields", {}).get("url", []))
        print(f"error: {exc.message} {reasons}".rstrip(), file=sys.stderr)
        return 2
    secret = None if args.remove else new_secret()
    event_types = None
    if args.events:
        event_types = tuple(e.strip() for e in args.events.split(",") if e.strip())
        unknown = [e for e in event_types if e not in WEBHOOK_EVENT_TYPES]
        if unknown or not event_types:
            print(f"error: --events takes {', '.join(WEBHOOK_EVENT_TYPES)} (not {', '.join(unknown)})", file=sys.stderr)
            return 2

    async def store_it() -> None:
        store = open_store(settings.effective_database_url)
        try:
            await store.migrate()
            await store.set_webhook(args.site, url, secret, datetime.now(UTC), event_types=event_types)
        finally:
            await store.close()

    asyncio.run(store_it())
    if secret is None:
        print(f"Webhook removed for site {args.site!r}.")
        return 0
    print(f"Webhook for site {args.site!r} set to {url}. Its signing secret is shown only once; store it now:")
    print(secret)
    return 0


def cmd_authors_erase(args: argparse.Namespace) -> int:
    from .errors import ValidationFailed
    from .privacy import erase
    from .store import open_store

    settings = _settings(args)

    async def run() -> dict[str, int]:
        store = open_store(settings.effective_database_url)
        try:
            await store.migrate()
            return await erase(store, args.site, args.email, actor="cli", now=datetime.now(UTC))
        finally:
            await store.close()

    try:
        counts = asyncio.run(run())
    except ValidationFailed as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    print(json.dumps({"site_id": args.site, "erased": counts}, indent=2))
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    from .privacy import purge
    from .store import open_store

    settings = _settings(args)

    async def run() -> dict[str, dict[str, int]]:
        store = open_store(settings.effective_database_url)
        try:
            await store.migrate()
            return await purge(store, settings.policy, datetime.now(UTC), apply=args.apply, actor="cli")
        finally:
            await store.close()

    report = asyncio.run(run())
    print(json.dumps({"applied": args.apply, "sites": report}, indent=2))
    if not args.apply:
        print("Dry run: nothing was removed. Run again with --apply to remove it.", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        if args.command == "serve":
            return cmd_serve(args)
        if args.command == "keys":
            return cmd_keys_create(args)
        if args.command == "check":
            return cmd_check(args)
        if args.command == "models":
            return cmd_models(args)
        if args.command == "migrate-store":
            return cmd_migrate_store(args)
        if args.command == "sites":
            return cmd_sites_set_webhook(args)
        if args.command == "authors":
            return cmd_authors_erase(args)
        if args.command == "purge":
            return cmd_purge(args)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # PolicyError and bad URLs: name the problem, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
