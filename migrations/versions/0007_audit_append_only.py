"""audit log append-only: PostgreSQL refuses UPDATE and DELETE on audit_log

Revision ID: 0007
Revises: 0006 (0003 before i15-recompute was merged in)
Create Date: 2026-11-30

The API offers no way to edit or delete an audit row; this trigger is the last guard, for
every role the app connects as (docs/admin-api.md "The audit log"). A consequence: a
user named as an actor can no longer be deleted (the FK's ON DELETE SET NULL is an
UPDATE); accounts are banned, never deleted. TRUNCATE (test resets) is not a row event.
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION audit_log_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER audit_log_append_only
        BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
        """
    )
    # The admins' audit query looks up one entity's history (actor_id has its index).
    op.create_index("ix_audit_log_entity", "audit_log", ["entity_type", "entity_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_entity", table_name="audit_log")
    op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION audit_log_append_only()")
