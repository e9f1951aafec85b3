"""security (issue #17): pending invitations with expiry, license numbers unique among verified, nudge limit"""

import sqlalchemy as sa
from alembic import op

revision = "20261207050000"
down_revision = "20261207040000"
branch_labels = None
depends_on = None

# The name the identity migration's check got under the metadata naming convention.
AUDIT_ROLE_CHECK = "ck_audit_logs_ck_audit_logs_actor_role"
ACTOR_ROLES = ("owner", "manager", "staff", "ops", "agent", "admin", "system", "anonymous")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    # Invitations: what the inviter typed (never the invitee's real names) and when the offer lapses.
    op.add_column("store_memberships", sa.Column("invite_first_name", sa.Text))
    op.add_column("store_memberships", sa.Column("invite_last_name", sa.Text))
    op.add_column("store_memberships", sa.Column("invite_expires_at", sa.DateTime(timezone=True)))
    op.execute(
        """
        UPDATE store_memberships m
           SET invite_first_name = u.first_name,
               invite_last_name = u.last_name,
               invite_expires_at = m.created_at + interval '7 days'
          FROM users u
         WHERE u.id = m.user_id AND m.status = 'invited'
        """
    )
    op.create_check_constraint(
        op.f("ck_store_memberships_invite_expiry"),
        "store_memberships",
        "status <> 'invited' OR invite_expires_at IS NOT NULL",
    )
    # `user`: a signed-in user acting without a store (an invitee yet to accept an invitation).
    op.drop_constraint(op.f(AUDIT_ROLE_CHECK), "audit_logs", type_="check")
    op.create_check_constraint(
        op.f(AUDIT_ROLE_CHECK), "audit_logs", _in("actor_role", (*ACTOR_ROLES, "user"))
    )
    # A license number is unique only among verified licenses of its state: nobody can squat a number by
    # submitting it first; the admin sees the other submissions of the number when reviewing.
    op.drop_constraint("uq_licenses_issuing_state_number", "licenses", type_="unique")
    op.create_index(
        "uq_licenses_verified_issuing_state_number",
        "licenses",
        ["issuing_state", "number"],
        unique=True,
        postgresql_where=sa.text("status = 'verified'"),
    )
    op.create_index("ix_licenses_issuing_state_number", "licenses", ["issuing_state", "number"])
    # Manual nudges: at most one per order per 24 hours.
    op.add_column("vendor_orders", sa.Column("last_nudged_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("vendor_orders", "last_nudged_at")
    op.drop_index("ix_licenses_issuing_state_number", table_name="licenses")
    op.drop_index("uq_licenses_verified_issuing_state_number", table_name="licenses")
    op.create_unique_constraint("uq_licenses_issuing_state_number", "licenses", ["issuing_state", "number"])
    op.drop_constraint(op.f(AUDIT_ROLE_CHECK), "audit_logs", type_="check")
    op.create_check_constraint(op.f(AUDIT_ROLE_CHECK), "audit_logs", _in("actor_role", ACTOR_ROLES))
    op.drop_constraint(op.f("ck_store_memberships_invite_expiry"), "store_memberships", type_="check")
    op.drop_column("store_memberships", "invite_expires_at")
    op.drop_column("store_memberships", "invite_last_name")
    op.drop_column("store_memberships", "invite_first_name")
