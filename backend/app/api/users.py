"""``/users``: register, the current user, their profile and password.

Logging in is the host's business (sessions and tokens belong to it); its login route calls
:func:`authenticate`, then its :func:`~app.api.dependencies.current_user` override returns
the user on later requests.
"""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from sqlalchemy.orm import Session

from app.api.dependencies import CurrentUser, DbSession, ReadDbSession
from app.api.models import PasswordChange, ProfileRead, UserCreate, UserRead
from app.api.problems import problems
from app.errors import NotFound
from app.models.user import User
from app.repositories.user_repository import UserRepository
from app.schemas.user import ProfileUpdate

router = APIRouter(prefix="/users", tags=["users"], responses=problems(503))
_AUTHENTICATED = problems(401)


def authenticate(db: Session, login: str, password: str) -> User | None:
    """For the host's login route: the user whose username or email is ``login`` and whose
    password matches, else ``None`` (unknown, wrong password, inactive or soft-deleted).
    Timing does not reveal whether the account exists."""
    return UserRepository(db).authenticate(login, password)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    responses=problems(400, 409, 422),
)
def register(body: UserCreate, db: DbSession) -> UserRead:
    """A new account (an active, unverified student) with an empty profile. The password is
    stored as an argon2id hash."""
    user = UserRepository(db).register(body)
    return UserRead.model_validate(user)


@router.get("/me", response_model=UserRead, responses=_AUTHENTICATED)
def me(user: CurrentUser) -> UserRead:
    return UserRead.model_validate(user)


@router.get(
    "/me/profile", response_model=ProfileRead, responses={**_AUTHENTICATED, **problems(404)}
)
def my_profile(user: CurrentUser, db: ReadDbSession) -> ProfileRead:
    profile = UserRepository(db).get_profile(user.id)
    if profile is None:
        raise NotFound("user_id: this user has no profile", field="user_id", rule="exists")
    return ProfileRead.model_validate(profile)


@router.patch(
    "/me/profile",
    response_model=ProfileRead,
    responses={**_AUTHENTICATED, **problems(400, 404, 422)},
)
def update_my_profile(body: ProfileUpdate, user: CurrentUser, db: DbSession) -> ProfileRead:
    """Change some profile fields; unset fields are left alone."""
    return ProfileRead.model_validate(UserRepository(db).update_profile(user.id, body))


@router.put(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**_AUTHENTICATED, **problems(400, 404, 422)},
)
def change_my_password(body: PasswordChange, user: CurrentUser, db: DbSession) -> Response:
    """``old_password`` must match the current one (else 422, ``rule`` ``matches_current``)."""
    UserRepository(db).change_password(
        user.id, body.old_password.get_secret_value(), body.new_password
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
