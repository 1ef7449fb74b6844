# tests/integration/test_database.py
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker
from app.db.base import Base
from app.models.user import User, UserRole
from app.repositories.user_repository import UserRepository


@pytest.fixture
def test_db():
    """Create test database."""
    engine = create_engine("postgresql://test:test@localhost:5432/test_db")
    Base.metadata.create_all(engine)
    
    Session = sessionmaker(bind=engine)
    session = Session()
    
    yield session
    
    session.close()
    Base.metadata.drop_all(engine)


def test_create_user(test_db):
    """Test user creation."""
    repo = UserRepository(test_db)
    
    user = User(
        username="test_user",
        email="test@example.com",
        password_hash="hashed_password",
        full_name="Test User",
        role=UserRole.STUDENT
    )
    
    created_user = repo.create(user)
    
    assert created_user.id is not None
    assert created_user.username == "test_user"
    assert created_user.email == "test@example.com"


def test_get_user_by_email(test_db):
    """Test retrieving user by email."""
    repo = UserRepository(test_db)
    
    # Create user
    user = User(
        username="test_user",
        email="test@example.com",
        password_hash="hashed",
        full_name="Test User"
    )
    repo.create(user)
    
    # Retrieve
    found_user = repo.get_by_email("test@example.com")
    
    assert found_user is not None
    assert found_user.email == "test@example.com"
