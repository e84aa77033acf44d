"""`python -m marketpulse_gateway keys create|revoke|list`: manage the gateway's API keys.

Keys live in the Redis named by MP_REDIS_URL, as digests only: `create` prints the new key
once, on stdout alone (so `KEY=$(… keys create)` captures exactly the key), and it cannot be
shown again. `list` shows ids, names and dates, never digests.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from urllib.parse import urlsplit

from redis.exceptions import RedisError

from marketpulse_common.connection import create_redis
from marketpulse_common.lifecycle import settings_or_exit
from marketpulse_common.logs import register_secret
from marketpulse_gateway.access.api_keys import is_key_id, key_id_of
from marketpulse_gateway.access.key_store import ApiKeyStore, KeyRecord

# Exit statuses: 1 = the command could not do what was asked; 2 = usage or settings.
NOT_DONE = 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m marketpulse_gateway keys", description="Manage gateway API keys."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a key and print it once")
    create.add_argument("--name", default="", help="who or what the key is for")
    revoke = commands.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id", help="the 8-character id (`mp_<id>_…`)")
    commands.add_parser("list", help="list keys (ids, names, dates; never secrets)")
    return parser


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    settings = settings_or_exit()
    register_secret(urlsplit(settings.redis_dsn).password)
    try:
        return asyncio.run(_run(settings.redis_dsn, args, cluster=settings.redis_cluster))
    except (RedisError, OSError) as e:
        print(
            f"marketpulse: Redis at MP_REDIS_URL is unreachable: {type(e).__name__}",
            file=sys.stderr,
        )
        return NOT_DONE


async def _run(redis_url: str, args: argparse.Namespace, *, cluster: bool = False) -> int:
    redis = create_redis(redis_url, client_name="gateway-keys", retries=1, cluster=cluster)
    try:
        store = ApiKeyStore(redis)
        if args.command == "create":
            issued = await store.create(args.name)
            print(issued.key)
            print(
                f"created key {issued.key_id}; store it now, it cannot be shown again",
                file=sys.stderr,
            )
            return 0
        if args.command == "revoke":
            return await _revoke(store, args.key_id)
        _print_records(await store.records())
        return 0
    finally:
        await redis.aclose()


async def _revoke(store: ApiKeyStore, given: str) -> int:
    # The key itself is what an operator often holds: its id is taken from it, and what was
    # given is never echoed (it may be a secret, and stderr ends up in job logs).
    key_id = given if is_key_id(given) else key_id_of(given)
    if key_id is None:
        print(
            "marketpulse: give a key id (8 characters of a-z, 0-9) or the key itself",
            file=sys.stderr,
        )
        return NOT_DONE
    if not await store.revoke(key_id):
        print(f"marketpulse: no active key {key_id}", file=sys.stderr)
        return NOT_DONE
    print(f"revoked key {key_id}", file=sys.stderr)
    return 0


def _print_records(records: list[KeyRecord]) -> None:
    print(f"{'id':<8}  {'status':<7}  {'created':<25}  name")
    for r in records:
        status = "active" if r.active else "revoked"
        print(f"{r.key_id:<8}  {status:<7}  {r.created_at:<25}  {r.name}")
