"""The ORM models. Importing any one of them registers all, so relationships resolve."""

from app.db import ddl, errors  # noqa: F401 - errors registers the text check on flush
from app.db.base import Base
from app.models.analysis import Analysis, AnalysisEvent, AnalysisHistory, Meter
from app.models.user import User, UserProfile, UserRole

ddl.attach(Base.metadata)

__all__ = [
    "Analysis",
    "AnalysisEvent",
    "AnalysisHistory",
    "Base",
    "Meter",
    "User",
    "UserProfile",
    "UserRole",
]
