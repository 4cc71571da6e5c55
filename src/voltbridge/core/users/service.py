"""Users, their bearer tokens, and who a request is (the `Principal`)."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from voltbridge.core.clock import Clock
from voltbridge.core.errors import Conflict, InvalidInput, NotFound
from voltbridge.core.operators import audit
from voltbridge.core.security import hash_password, new_token, token_digest, verify_password
from voltbridge.store import Database
from voltbridge.store.models import ApiToken, User
from voltbridge.store.models.operators import Operator

ROLES = ("admin", "operator")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a platform admin sees everything; an operator user only its operator's things."""

    user_id: int | None
    email: str
    role: str
    operator_id: int | None = None
    read_only: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


ADMIN_TOKEN_PRINCIPAL = Principal(user_id=None, email="admin-token", role="admin")


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token: `token` is shown once and never stored."""

    id: int
    token: str
    name: str


class UserService:
    """Users and tokens. The bearer token check lives here so every edge asks the same question."""

    def __init__(self, db: Database, clock: Clock, *, admin_token: str = "") -> None:
        self._db = db
        self._clock = clock
        self._admin_token = admin_token

    async def create(
        self,
        email: str,
        *,
        role: str,
        password: str | None = None,
        operator_id: int | None = None,
        read_only: bool = False,
        actor: Principal | None = None,
    ) -> User:
        email = email.strip().lower()
        if "@" not in email or len(email) > 255:
            raise InvalidInput("email must be an e-mail address")
        if role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
        if role == "operator" and operator_id is None:
            raise InvalidInput("an operator user needs operator_id")
        if role == "admin" and operator_id is not None:
            raise InvalidInput("a platform admin belongs to no operator")
        if password is not None and len(password) < 8:
            raise InvalidInput("password must be at least 8 characters")
        now = self._clock.now()
        user = User(
            email=email,
            password_hash=hash_password(password) if password else None,
            role=role,
            operator_id=operator_id,
            read_only=read_only,
            active=True,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self._db.transaction() as session:
                # Checked here, not left to the foreign key: its error would read like a duplicate email.
                if operator_id is not None and await session.get(Operator, operator_id) is None:
                    raise InvalidInput(f"operator {operator_id} does not exist")
                session.add(user)
                await session.flush()
                audit.record(
                    session,
                    actor=actor,
                    at=now,
                    entity="user",
                    entity_id=user.id,
                    action="create",
                    operator_id=operator_id,
                    after={"email": email, "role": role, "operator_id": operator_id, "read_only": read_only},
                )
        except IntegrityError as exc:
            raise Conflict(f"a user with email {email!r} already exists") from exc
        return user

    async def get(self, user_id: int) -> User:
        async with self._db.read() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise NotFound(f"user {user_id} does not exist")
            return user

    async def get_by_email(self, email: str) -> User:
        async with self._db.read() as session:
            user = await session.scalar(select(User).where(User.email == email.strip().lower()))
            if user is None:
                raise NotFound(f"user {email!r} does not exist")
            return user

    async def get_all(self, *, limit: int = 100, offset: int = 0) -> tuple[Sequence[User], int]:
        async with self._db.read() as session:
            total = await session.scalar(select(func.count()).select_from(User)) or 0
            rows = await session.scalars(select(User).order_by(User.id).limit(limit).offset(offset))
            return rows.all(), total

    async def check_password(self, email: str, password: str) -> Principal | None:
        async with self._db.read() as session:
            user = await session.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None or not user.active or user.password_hash is None:
            return None
        if not verify_password(user.password_hash, password):
            return None
        return _principal(user)

    async def issue_token(
        self, user_id: int, name: str = "api", *, actor: Principal | None = None
    ) -> IssuedToken:
        token = new_token()
        async with self._db.transaction() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise NotFound(f"user {user_id} does not exist")
            row = ApiToken(
                user_id=user_id,
                name=name,
                token_hash=token_digest(token),
                prefix=token[:10],
                created_at=self._clock.now(),
            )
            session.add(row)
            await session.flush()
            audit.record(
                session,
                actor=actor,
                at=row.created_at,
                entity="user",
                entity_id=user_id,
                action="issue_token",
                operator_id=user.operator_id,
                after={"token_id": row.id, "name": name, "prefix": row.prefix},
            )
        return IssuedToken(id=row.id, token=token, name=name)

    async def tokens(self, user_id: int) -> Sequence[ApiToken]:
        async with self._db.read() as session:
            rows = await session.scalars(
                select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)
            )
            return rows.all()

    async def revoke_token(self, user_id: int, token_id: int, *, actor: Principal | None = None) -> None:
        async with self._db.transaction() as session:
            row = await session.get(ApiToken, token_id)
            if row is None or row.user_id != user_id:
                raise NotFound(f"token {token_id} of user {user_id} does not exist")
            if row.revoked_at is None:
                row.revoked_at = self._clock.now()
                audit.record(
                    session,
                    actor=actor,
                    at=row.revoked_at,
                    entity="user",
                    entity_id=user_id,
                    action="revoke_token",
                    before={"token_id": token_id, "prefix": row.prefix},
                )

    async def authenticate(self, token: str) -> Principal | None:
        """The principal behind a bearer token, or None. Records when the token was last used."""
        if self._admin_token and hmac.compare_digest(token, self._admin_token):
            return ADMIN_TOKEN_PRINCIPAL
        async with self._db.transaction() as session:
            row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
            if row is None or row.revoked_at is not None:
                return None
            user = await session.get(User, row.user_id)
            if user is None or not user.active:
                return None
            now = self._clock.now()
            # Write the last use at most once a minute: tokens are checked on every request.
            if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
                row.last_used_at = now
            return _principal(user)


def _principal(user: User) -> Principal:
    return Principal(
        user_id=user.id,
        email=user.email,
        role=user.role,
        operator_id=user.operator_id,
        read_only=user.read_only,
    )
