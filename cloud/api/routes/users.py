"""Staff accounts and roles for managers (list, create, change role, disable, reset a second
factor), and a manager's or finance user's own TOTP enrolment.

Thin: the rules are services/staff.py and services/second_factor.py. Every change is audited.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from cloud.api.deps import DB, Context, Source, Staff, role
from cloud.api.staff_schemas import RecoveryCodes, SecondFactorEnrolment, UserChanged, UserOut
from cloud.models import User
from cloud.models.accounts import ROLES
from cloud.services import second_factor, staff
from cloud.services.audit import audit

router = APIRouter(prefix="/api/v1", tags=["staff"])
Manager = Annotated[Staff, Depends(role("manager"))]
Reader = Annotated[Staff, Depends(role("manager", "auditor"))]
Enrolling = Annotated[Staff, Depends(role("manager", "finance"))]
ROLE_PATTERN = "^(" + "|".join(ROLES) + ")$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class UserIn(_Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)
    role: str = Field(pattern=ROLE_PATTERN)


class UserChange(_Strict):
    role: str | None = Field(default=None, pattern=ROLE_PATTERN)
    active: bool | None = None


class CodeIn(_Strict):
    code: str = Field(min_length=1, max_length=32)


def _out(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "role": user.role,
        "active": user.active,
        "second_factor": second_factor.required(user),
    }


@router.get("/users", response_model=list[UserOut])
def list_users(db: DB, ctx: Context, who: Reader, where: Source) -> list[dict[str, Any]]:
    """Every account with its role, state and whether it has a second factor (audited)."""
    audit(db, who.username, where, "list_users", "users", at=ctx.clock.now())
    return [_out(user) for user in staff.list_users(db)]


@router.post("/users", status_code=201, response_model=UserOut)
def create_user(body: UserIn, db: DB, ctx: Context, who: Manager, where: Source) -> dict[str, Any]:
    user = staff.create_user(db, body.username, body.password, body.role)
    audit(
        db, who.username, where, "create_user", f"user:{user.username}",
        {"role": user.role}, at=ctx.clock.now(),
    )  # fmt: skip
    return _out(user)


@router.patch("/users/{username}", response_model=UserChanged)
def change_user(
    username: str, body: UserChange, db: DB, ctx: Context, who: Manager, where: Source
) -> dict[str, Any]:
    """A new role and/or ``active: false`` (disable) or ``true`` (enable again); disabling or
    a new role ends the user's sessions."""
    user, ended = staff.change_user(db, username, role=body.role, active=body.active)
    detail = {**body.model_dump(exclude_none=True), "sessions_ended": ended}
    audit(db, who.username, where, "change_user", f"user:{username}", detail, at=ctx.clock.now())
    return {**_out(user), "sessions_ended": ended}


@router.post("/users/{username}/second-factor/reset", response_model=UserOut)
def reset_second_factor(
    username: str, db: DB, ctx: Context, who: Manager, where: Source
) -> dict[str, Any]:
    """Clear a user's TOTP (a lost phone with no recovery code left): they enrol again."""
    user = staff.user_named(db, username)
    second_factor.reset(db, user)
    audit(db, who.username, where, "reset_second_factor", f"user:{username}", at=ctx.clock.now())
    return _out(user)


@router.post("/auth/second-factor", response_model=SecondFactorEnrolment)
def enrol_second_factor(db: DB, ctx: Context, who: Enrolling, where: Source) -> dict[str, str]:
    """Start TOTP enrolment for the signed-in user: the secret and an ``otpauth://`` URI for
    an authenticator app; it is active once confirmed with a first code."""
    enrolment = second_factor.enrol(db, staff.user_named(db, who.username), ctx.pd)
    audit(db, who.username, where, "enrol_second_factor", f"user:{who.username}",
          at=ctx.clock.now())  # fmt: skip
    return {"secret": enrolment.secret, "uri": enrolment.uri}


@router.post("/auth/second-factor/confirm", response_model=RecoveryCodes)
def confirm_second_factor(
    body: CodeIn, db: DB, ctx: Context, who: Enrolling, where: Source
) -> dict[str, list[str]]:
    """Confirm with the authenticator's current code: from now on sign-in needs a code; the
    answer's recovery codes are shown this once (each signs in once, instead of a code)."""
    user = staff.user_named(db, who.username)
    codes = second_factor.confirm(db, user, ctx.pd, body.code, ctx.clock.now())
    audit(db, who.username, where, "confirm_second_factor", f"user:{who.username}",
          at=ctx.clock.now())  # fmt: skip
    return {"recovery_codes": codes}
