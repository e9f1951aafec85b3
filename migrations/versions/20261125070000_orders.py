"""orders: delivery assignments, the append-only ledger, the payout queue index"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "20261125070000"
down_revision = "20261125060000"
branch_labels = None
depends_on = None

ASSIGNMENT_SOURCES = ("auto", "claim", "admin")
LEDGER_EVENT_TYPES = ("cash_collected", "vendor_payout", "adjustment", "refund")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _moment(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True))


def _now(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def _fk(name: str, target: str, ondelete: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, UUID(as_uuid=True), sa.ForeignKey(target, ondelete=ondelete), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "order_assignments",
        sa.Column("id", UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")),
        _fk("order_id", "vendor_orders.id", "CASCADE"),
        _fk("agent_user_id", "users.id", "RESTRICT"),
        sa.Column("source", sa.Text, nullable=False),
        # null = the dispatch consumer assigned it
        _fk("assigned_by_user_id", "users.id", "RESTRICT", nullable=True),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.text("true")),
        _now("assigned_at"),
        _moment("unassigned_at"),
        _moment("pickup_time"),
        _moment("delivery_time"),
        _moment("cash_pickup_time"),
        _now("created_at"),
        _now("updated_at"),
        sa.CheckConstraint(_in("source", ASSIGNMENT_SOURCES), name="ck_order_assignments_source"),
        sa.CheckConstraint(
            "active = (unassigned_at IS NULL)", name="ck_order_assignments_unassigned_when_inactive"
        ),
        sa.CheckConstraint(
            "(source = 'auto') = (assigned_by_user_id IS NULL)", name="ck_order_assignments_assigned_by"
        ),
    )
    # One active assignment per order: the first claim (or auto-assignment) wins, the other conflicts.
    op.create_index(
        "uq_order_assignments_active_order",
        "order_assignments",
        ["order_id"],
        unique=True,
        postgresql_where=sa.text("active"),
    )
    op.create_index("ix_order_assignments_order_id", "order_assignments", ["order_id"])
    op.create_index(
        "ix_order_assignments_agent_user_id_active", "order_assignments", ["agent_user_id", "active"]
    )

    op.create_table(
        "ledger_events",
        sa.Column("id", UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")),
        _fk("order_id", "vendor_orders.id", "RESTRICT"),
        _fk("buyer_store_id", "stores.id", "RESTRICT"),
        _fk("vendor_store_id", "stores.id", "RESTRICT"),
        _fk("actor_user_id", "users.id", "RESTRICT"),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("metadata", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        _now("created_at"),
        sa.CheckConstraint(_in("type", LEDGER_EVENT_TYPES), name="ck_ledger_events_type"),
        sa.CheckConstraint("amount_cents >= 0", name="ck_ledger_events_amount_cents"),
    )
    # Money moves once: one cash collection and one payout per order, whatever retries or races do.
    op.create_index(
        "uq_ledger_events_order_id_type",
        "ledger_events",
        ["order_id", "type"],
        unique=True,
        postgresql_where=sa.text("type IN ('cash_collected', 'vendor_payout')"),
    )
    op.create_index("ix_ledger_events_created_at_id", "ledger_events", ["created_at", "id"])
    op.create_index(
        "ix_ledger_events_vendor_store_id_created_at", "ledger_events", ["vendor_store_id", "created_at"]
    )
    op.create_index(
        "ix_ledger_events_buyer_store_id_created_at", "ledger_events", ["buyer_store_id", "created_at"]
    )
    op.execute(
        """
        CREATE FUNCTION ledger_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'ledger_events is append-only' USING ERRCODE = 'insufficient_privilege';
        END;
        $$
        """
    )
    # Row-level UPDATE/DELETE only: TRUNCATE stays a matter of database privileges (test suites use it).
    op.execute(
        "CREATE TRIGGER ledger_events_append_only BEFORE UPDATE OR DELETE ON ledger_events "
        "FOR EACH ROW EXECUTE FUNCTION ledger_events_append_only()"
    )

    # The admin payout queue: delivered orders, oldest delivery first (commerce.md §10).
    op.create_index(
        "ix_vendor_orders_delivered_at_id",
        "vendor_orders",
        ["delivered_at", "id"],
        postgresql_where=sa.text("status = 'delivered'"),
    )


def downgrade() -> None:
    op.drop_index("ix_vendor_orders_delivered_at_id", table_name="vendor_orders")
    op.execute("DROP TRIGGER ledger_events_append_only ON ledger_events")
    op.execute("DROP FUNCTION ledger_events_append_only()")
    op.drop_table("ledger_events")
    op.drop_table("order_assignments")
