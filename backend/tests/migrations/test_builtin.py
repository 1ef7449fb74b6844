"""pytest-alembic's built-in checks, run against PostgreSQL.

* a single head revision;
* ``upgrade`` from base to head;
* the models match the DDL the migrations produce (autogenerate finds nothing);
* every revision can go down and up again.
"""

from pytest_alembic.tests import (
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)

__all__ = [
    "test_model_definitions_match_ddl",
    "test_single_head_revision",
    "test_up_down_consistency",
    "test_upgrade",
]
