"""Accounts and signed reviews of stored analyses (the QC dashboard's sign-off).

An account has a name, a role and an argon2id password hash, kept in the store
as an append-only event log (the latest row of a name is the account). A review
is an electronic signature: the reviewer re-enters the password, and the store
appends who signed, when, the decision and what it means, and the SHA-256 of
the report signed, sealed in the audit chain like every other record, so
`specqc records verify` names a review changed, added or removed behind the
store's back.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass

from ..errors import ConfigError, InputError
from .store import Actor, Store, _sha

ROLES = ("reviewer", "viewer")
# What a signature means, stored with it (a reader of the record sees what the signer attested).
MEANINGS = {
    "approved": "Approved: I reviewed this analysis and its report, and approve its QC result.",
    "rejected": "Rejected: I reviewed this analysis and its report, and reject its QC result.",
}
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
PASSWORD_MIN_CHARS = 8
COMMENT_MAX_CHARS = 2000


class AuthenticationError(InputError):
    """Unknown account, disabled account or wrong password."""


class NotPermittedError(InputError):
    """The account is known but its role does not allow the action."""


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    active: bool

    @property
    def may_review(self) -> bool:
        return self.active and self.role == "reviewer"


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id with the library's current recommended cost


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def _matches(password_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    try:
        return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# verified against when the name is unknown, so a wrong name costs the same time as a wrong password
_DUMMY_HASH: list[str] = []


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name or ""):
        raise ConfigError(
            f"account name {name!r} is not allowed (letters, digits, '.', '_', '-'; at most 64, "
            "starting with a letter or digit)"
        )
    return name


def check_password(password: str) -> str:
    if len(password) < PASSWORD_MIN_CHARS:
        raise ConfigError(f"password too short (at least {PASSWORD_MIN_CHARS} characters)")
    if password != password.strip() or "\n" in password:
        raise ConfigError("password must not start or end with white space")
    return password


def add_user(store: Store, name: str, role: str, password: str, actor: Actor) -> Account:
    """A new account; an existing name is refused (nothing is silently replaced)."""
    check_name(name)
    if role not in ROLES:
        raise ConfigError(f"role {role!r} is not one of {', '.join(ROLES)}")
    existing = store.user(name)
    if existing is not None and existing["active"]:
        raise ConfigError(
            f"account {name!r} exists already (role {existing['role']}); `specqc users passwd` gives it a new password",
            store.path,
        )
    check_password(password)
    row = store.add_user(name, role, hash_password(password), actor=actor)
    return Account(row["name"], row["role"], bool(row["active"]))


def set_password(store: Store, name: str, password: str, actor: Actor) -> Account:
    current = _existing(store, name)
    check_password(password)
    row = store.add_user(name, current["role"], hash_password(password), actor=actor)
    return Account(row["name"], row["role"], bool(row["active"]))


def disable_user(store: Store, name: str, actor: Actor) -> Account:
    current = _existing(store, name)
    row = store.add_user(name, current["role"], current["password_hash"], active=False, actor=actor)
    return Account(row["name"], row["role"], bool(row["active"]))


def _existing(store: Store, name: str):
    current = store.user(name)
    if current is None or not current["active"]:
        raise ConfigError(f"no active account {name!r}", store.path)
    return current


def accounts(store: Store) -> list[Account]:
    return [Account(r["name"], r["role"], bool(r["active"])) for r in store.users()]


def authentication_configured(store: Store) -> bool:
    return any(a.active for a in accounts(store))


def authenticate(store: Store, name: str, password: str) -> Account:
    """The account whose password this is, or AuthenticationError (never saying which part was wrong)."""
    row = store.user(name) if NAME_PATTERN.match(name or "") else None
    if row is None or not row["active"]:
        if not _DUMMY_HASH:
            _DUMMY_HASH.append(hash_password("not a password of anyone"))
        _matches(_DUMMY_HASH[0], password)
        raise AuthenticationError("unknown account or wrong password")
    if not _matches(row["password_hash"], password):
        raise AuthenticationError("unknown account or wrong password")
    return Account(row["name"], row["role"], True)


def sign_review(
    store: Store,
    analysis_id: str,
    *,
    name: str,
    password: str,
    decision: str,
    comment: str = "",
    report_sha256: str | None = None,
    client: str | None = None,
):
    """Append `name`'s signed decision on an analysis and return the stored review row.

    The password is checked again here (the signature), whatever session the
    caller has. `report_sha256`: the report the reviewer was shown (default: the
    stored one); a review of an analysis a newer revision supersedes is refused."""
    if decision not in MEANINGS:
        raise InputError(f"decision must be one of {', '.join(MEANINGS)}, not {decision!r}")
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX_CHARS:
        raise InputError(f"comment longer than {COMMENT_MAX_CHARS} characters")
    if decision == "rejected" and not comment:
        raise InputError("a rejection needs a comment saying why")
    account = authenticate(store, name, password)
    if not account.may_review:
        raise NotPermittedError(f"account {name!r} (role {account.role}) may not review")
    analysis = store.analysis(analysis_id)
    if store.superseded_by(analysis["id"]) is not None:
        raise InputError(f"record {analysis['id']} is superseded by a newer revision: review that one")
    if _sha(analysis["report_json"]) != analysis["report_sha256"]:
        raise InputError(
            f"record {analysis['id']}: stored report does not match its SHA-256; run `specqc records verify`"
        )
    return store.add_review(
        analysis["id"],
        reviewer=account.name,
        role=account.role,
        decision=decision,
        meaning=MEANINGS[decision],
        comment=comment,
        report_sha256=report_sha256 or analysis["report_sha256"],
        client=client,
        actor=Actor(account.name, socket.gethostname(), "web"),
    )
