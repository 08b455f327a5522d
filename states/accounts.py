"""Accounts, their tokens, login throttling and access records: the identity tables' queries.

What a role *permits* is decided in `workflows.authz`; this module only stores and reads.
Every change to an account or a token writes an `account_events` row in the same
transaction, so an auditor sees who created, re-roled, disabled or issued what.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from states.errors import InvalidInput, NotFound
from states.models import access_records as _access
from states.models import account_events as _events
from states.models import accounts as _accounts
from states.models import api_tokens as _tokens
from states.store import Store, Tx

SYSTEM = "system"
# A token and its account, by the token's digest (Accounts.by_token).
_BY_TOKEN = (
    "SELECT a.*, t.id AS t_id, t.kind AS t_kind, t.created_at AS t_created_at, "
    "t.expires_at AS t_expires_at, t.revoked_at AS t_revoked_at, "
    "t.last_used_at AS t_last_used_at "
    "FROM api_tokens t JOIN accounts a ON a.id = t.account_id WHERE t.token_hash = :digest"
)  # the flows' built-in account (and role): no password, no token, no person
# The largest id a row can have (a signed 64-bit integer in SQLite and PostgreSQL).
_MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    full_name: str
    email: str | None
    roles: tuple[str, ...]
    active: bool
    has_password: bool
    created_at: str
    last_login_at: str | None
    failed_logins: int
    locked_until: str | None

    @classmethod
    def from_row(cls, r: Any) -> Account:
        return cls(
            id=int(r["id"]),
            username=r["username"],
            full_name=r["full_name"],
            email=r["email"],
            roles=tuple(x for x in r["roles"].split(",") if x),
            active=bool(r["active"]),
            has_password=r["password_hash"] is not None,
            created_at=r["created_at"],
            last_login_at=r["last_login_at"],
            failed_logins=int(r["failed_logins"]),
            locked_until=r["locked_until"],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "full_name": self.full_name,
            "email": self.email,
            "roles": list(self.roles),
            "active": self.active,
            "has_password": self.has_password,
            "created_at": self.created_at,
            "last_login_at": self.last_login_at,
        }


@dataclass(frozen=True)
class Token:
    id: int
    account_id: int
    kind: str
    created_at: str
    expires_at: str
    revoked_at: str | None
    last_used_at: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
            "last_used_at": self.last_used_at,
        }


def _roles_text(roles: Iterable[str]) -> str:
    return ",".join(sorted(set(roles)))


def _event(tx: Tx, account: str, event: str, detail: str, by: str, at: str) -> None:
    tx.conn.execute(
        insert(_events).values(account=account, event=event, detail=detail, by=by, at=at)
    )


def _storable(username: str) -> bool:
    """Whether ``username`` could be in the table at all. A longer name, a NUL (PostgreSQL
    refuses it in text) or a lone surrogate (no database can encode it) names no account:
    asking the database would fail instead of answering "no such account"."""
    if not 0 < len(username) <= 64 or "\x00" in username:
        return False
    try:
        username.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _get(tx: Tx, username: str, *, lock: bool = False) -> dict[str, Any] | None:
    if not _storable(username):
        return None
    stmt = select(_accounts).where(_accounts.c.username == username)
    if lock and tx.conn.dialect.name == "postgresql":  # SQLite: BEGIN IMMEDIATE already
        stmt = stmt.with_for_update()
    row = tx.conn.execute(stmt).mappings()
    found = row.first()
    return dict(found) if found else None


def _must_get(tx: Tx, username: str, *, lock: bool = False) -> dict[str, Any]:
    row = _get(tx, username, lock=lock)
    if row is None:
        raise NotFound(f"no account named '{username}' ('qmas user list' shows the accounts)")
    return row


class Accounts:
    """The identity tables of one `Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- accounts ------------------------------------------------------------------------
    def get(self, username: str) -> Account | None:
        with self.store.read() as tx:
            row = _get(tx, username)
        return Account.from_row(row) if row else None

    def password_hash(self, username: str) -> str | None:
        with self.store.read() as tx:
            row = _get(tx, username)
        return row["password_hash"] if row else None

    def all(self) -> list[Account]:
        with self.store.read() as tx:
            rows = tx.conn.execute(select(_accounts).order_by(_accounts.c.username)).mappings()
            return [Account.from_row(r) for r in rows]

    def add(
        self,
        username: str,
        roles: Iterable[str],
        *,
        full_name: str = "",
        email: str | None = None,
        password_hash: str | None = None,
        by: str,
        at: str,
    ) -> Account:
        if username == SYSTEM:
            raise InvalidInput("'system' is the flows' built-in account; choose another username")
        values = {
            "username": username,
            "full_name": full_name,
            "email": email,
            "roles": _roles_text(roles),
            "active": True,
            "password_hash": password_hash,
            "created_at": at,
            "failed_logins": 0,
        }
        try:
            with self.store.write() as tx:
                if _get(tx, username) is not None:
                    raise InvalidInput(f"an account named '{username}' already exists")
                tx.conn.execute(insert(_accounts).values(**values))
                _event(tx, username, "created", f"roles: {values['roles']}", by, at)
        except IntegrityError:  # a rival created it between the check and the insert
            raise InvalidInput(f"an account named '{username}' already exists") from None
        found = self.get(username)
        assert found is not None
        return found

    def ensure_system(self, at: str) -> None:
        """The flows' own account: holds the role ``system``, can never log in."""
        try:
            with self.store.write() as tx:
                if _get(tx, SYSTEM) is None:
                    tx.conn.execute(
                        insert(_accounts).values(
                            username=SYSTEM,
                            full_name="QMAS flows (built-in)",
                            roles=SYSTEM,
                            active=True,
                            created_at=at,
                            failed_logins=0,
                        )
                    )
                    _event(tx, SYSTEM, "created", "built-in account of the flows", SYSTEM, at)
        except IntegrityError:  # two 'qmas init' at once: the other one created it
            pass

    def _change(
        self, username: str, event: str, detail: str, by: str, at: str, **values: Any
    ) -> Account:
        with self.store.write() as tx:
            _must_get(tx, username)
            tx.conn.execute(
                update(_accounts).where(_accounts.c.username == username).values(**values)
            )
            _event(tx, username, event, detail, by, at)
        found = self.get(username)
        assert found is not None
        return found

    def set_roles(self, username: str, roles: Iterable[str], *, by: str, at: str) -> Account:
        text = _roles_text(roles)
        return self._change(username, "roles", f"roles: {text}", by, at, roles=text)

    def set_active(self, username: str, active: bool, *, by: str, at: str) -> Account:
        """Enable or disable; disabling also revokes every token, so that enabling the account
        again (after a leak, say) does not bring old tokens back to life."""
        if active:
            return self._change(username, "enabled", "", by, at, active=True)
        with self.store.write() as tx:
            account = _must_get(tx, username)
            tx.conn.execute(
                update(_accounts).where(_accounts.c.username == username).values(active=False)
            )
            ended = tx.conn.execute(
                update(_tokens)
                .where(_tokens.c.account_id == account["id"], _tokens.c.revoked_at.is_(None))
                .values(revoked_at=at)
            ).rowcount
            _event(tx, username, "disabled", f"{ended} token(s) revoked" if ended else "", by, at)
        found = self.get(username)
        assert found is not None
        return found

    def set_password(self, username: str, password_hash: str, *, by: str, at: str) -> Account:
        """Set the password, clear a login lock, and end the sessions the old password opened
        (tokens from logging in; tokens issued with 'qmas token create' stay valid)."""
        with self.store.write() as tx:
            account = _must_get(tx, username)
            tx.conn.execute(
                update(_accounts)
                .where(_accounts.c.username == username)
                .values(password_hash=password_hash, failed_logins=0, locked_until=None)
            )
            ended = tx.conn.execute(
                update(_tokens)
                .where(
                    _tokens.c.account_id == account["id"],
                    _tokens.c.kind == "login",
                    _tokens.c.revoked_at.is_(None),
                )
                .values(revoked_at=at)
            ).rowcount
            detail = f"{ended} login session(s) ended" if ended else ""
            _event(tx, username, "password", detail, by, at)
        found = self.get(username)
        assert found is not None
        return found

    # --- login throttling ----------------------------------------------------------------
    def login_failed(self, username: str, *, at: str, limit: int, lock_until: str) -> str | None:
        """Count a failed password; the ``limit``-th in a row locks the account until
        ``lock_until``. Unknown usernames are not stored (nothing to lock).

        The count is read and written under the account's row lock (``BEGIN IMMEDIATE`` on
        SQLite, ``FOR UPDATE`` on PostgreSQL), so concurrent guesses each count. Returns the
        lock already in force at ``at`` (a guess in flight when the lock fell: it does not
        count again, and the caller answers it as locked), else None."""
        with self.store.write() as tx:
            row = _get(tx, username, lock=True)
            if row is None:
                return None
            if _locked(row, at):
                return str(row["locked_until"])
            failures = int(row["failed_logins"]) + 1
            values: dict[str, Any] = {"failed_logins": failures}
            if failures >= limit:
                values.update(failed_logins=0, locked_until=lock_until)
                _event(tx, username, "locked", f"{failures} failed logins", SYSTEM, at)
            tx.conn.execute(
                update(_accounts).where(_accounts.c.username == username).values(**values)
            )
            return None

    def login_succeeded(self, username: str, *, at: str) -> str | None:
        """Record a login (None), unless the account was locked meanwhile by guesses in
        flight with this one: then nothing is written and the lock in force is returned."""
        with self.store.write() as tx:
            row = _get(tx, username, lock=True)
            if row is not None and _locked(row, at):
                return str(row["locked_until"])
            tx.conn.execute(
                update(_accounts)
                .where(_accounts.c.username == username)
                .values(last_login_at=at, failed_logins=0, locked_until=None)
            )
            return None

    # --- tokens --------------------------------------------------------------------------
    def add_token(
        self, username: str, digest: str, *, kind: str, expires_at: str, by: str, at: str
    ) -> int:
        with self.store.write() as tx:
            account = _must_get(tx, username, lock=True)
            # Checked again here: a 'qmas user disable' may have committed since the caller
            # looked, and a token issued after it would outlive the disabling.
            if account["username"] == SYSTEM:
                raise InvalidInput("the 'system' account acts only inside the flows; no tokens")
            if not account["active"]:
                raise InvalidInput(f"account '{username}' is disabled; it cannot have tokens")
            result = tx.conn.execute(
                insert(_tokens).values(
                    account_id=account["id"],
                    token_hash=digest,
                    kind=kind,
                    created_at=at,
                    expires_at=expires_at,
                )
            )
            token_id = int(result.inserted_primary_key[0])  # type: ignore[index]
            if kind != "login":  # a login is in last_login_at; an issued token is an event
                _event(tx, username, "token", f"token {token_id} until {expires_at}", by, at)
            return token_id

    def by_token(self, digest: str) -> tuple[Token, Account] | None:
        """The token with this digest and its account (whatever their state): one prebuilt
        join, as every API request asks it (building the statement cost more than running it).
        """
        with self.store.read() as tx:
            row = tx.driver.one(_BY_TOKEN, {"digest": digest})
        if row is None:
            return None
        token = Token(
            id=int(row["t_id"]),
            account_id=int(row["id"]),
            kind=row["t_kind"],
            created_at=row["t_created_at"],
            expires_at=row["t_expires_at"],
            revoked_at=row["t_revoked_at"],
            last_used_at=row["t_last_used_at"],
        )
        return token, Account.from_row(row)

    def token_used(self, token_id: int, at: str) -> None:
        with self.store.write() as tx:
            tx.conn.execute(update(_tokens).where(_tokens.c.id == token_id).values(last_used_at=at))

    def revoke_token(self, token_id: int, *, by: str, at: str) -> tuple[Token, str]:
        """Revoke one token (revoking twice is harmless); returns it and its owner."""
        if not 0 < token_id <= _MAX_ID:  # no row has such an id (and SQLite cannot bind it)
            raise NotFound(f"no token {str(token_id)[:40]}")
        with self.store.write() as tx:
            row = (
                tx.conn.execute(
                    select(_tokens, _accounts.c.username)
                    .join(_accounts, _accounts.c.id == _tokens.c.account_id)
                    .where(_tokens.c.id == token_id)
                )
                .mappings()
                .first()
            )
            if row is None:
                raise NotFound(f"no token {token_id}")
            if row["revoked_at"] is None:
                tx.conn.execute(
                    update(_tokens).where(_tokens.c.id == token_id).values(revoked_at=at)
                )
                _event(tx, row["username"], "revoked", f"token {token_id}", by, at)
        token = _token(row)
        return token, row["username"]

    def tokens(self, username: str) -> list[Token]:
        with self.store.read() as tx:
            account = _must_get(tx, username)
            rows = tx.conn.execute(
                select(_tokens).where(_tokens.c.account_id == account["id"]).order_by(_tokens.c.id)
            ).mappings()
            return [_token(r) for r in rows]

    # --- access records ------------------------------------------------------------------
    def record_access(
        self,
        case_id: int,
        *,
        account: str,
        role: str,
        action: str,
        fields: Iterable[str],
        via: str,
        at: str,
    ) -> None:
        with self.store.write() as tx:
            tx.conn.execute(
                insert(_access).values(
                    case_id=case_id,
                    account=account,
                    role=role,
                    action=action,
                    fields=",".join(fields),
                    via=via,
                    at=at,
                )
            )

    def record_accesses(self, records: list[dict[str, Any]]) -> None:
        """Several access records in one transaction (all or none), each a dict of
        `record_access`'s arguments."""
        if not records:
            return
        rows = [{**r, "fields": ",".join(r["fields"])} for r in records]
        with self.store.write() as tx:
            tx.conn.execute(insert(_access), rows)

    def access_records(self, case_id: int) -> list[dict[str, Any]]:
        with self.store.read() as tx:
            rows = tx.conn.execute(
                select(_access).where(_access.c.case_id == case_id).order_by(_access.c.id)
            ).mappings()
            return [
                {
                    "id": r["id"],
                    "at": r["at"],
                    "account": r["account"],
                    "role": r["role"],
                    "action": r["action"],
                    "fields": [f for f in r["fields"].split(",") if f],
                    "via": r["via"],
                }
                for r in rows
            ]

    def events(self, username: str | None = None) -> list[dict[str, Any]]:
        stmt = select(_events).order_by(_events.c.id)
        if username is not None:
            stmt = stmt.where(_events.c.account == username)
        with self.store.read() as tx:
            return [dict(r) for r in tx.conn.execute(stmt).mappings()]

    def count(self) -> int:
        with self.store.read() as tx:
            return int(tx.conn.execute(select(func.count()).select_from(_accounts)).scalar_one())


def _locked(row: dict[str, Any], at: str) -> bool:
    """Whether the account row is locked at the moment ``at`` (both ISO-8601 UTC text)."""
    until = row["locked_until"]
    return until is not None and _parse_iso(at) < _parse_iso(until)


def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _token(r: Any) -> Token:
    return Token(
        id=int(r["id"]),
        account_id=int(r["account_id"]),
        kind=r["kind"],
        created_at=r["created_at"],
        expires_at=r["expires_at"],
        revoked_at=r["revoked_at"],
        last_used_at=r["last_used_at"],
    )
