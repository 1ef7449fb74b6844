# tests/unit/models/test_user_model.py
import pytest
from app.models.user import User, UserRole


def test_user_model_creation():
    """Test User model instantiation."""
    user = User(
        username="ahmad",
        email="ahmad@example.com",
        password_hash="hashed_password",
        full_name="أحمد محمد",
        role=UserRole.POET
    )
    
    assert user.username == "ahmad"
    assert user.role == UserRole.POET
    assert user.is_active is True
    assert user.is_verified is False


def test_user_repr():
    """Test User string representation."""
    user = User(id=1, username="test", role=UserRole.STUDENT)
    
    assert "User(id=1" in repr(user)
    assert "username='test'" in repr(user)
