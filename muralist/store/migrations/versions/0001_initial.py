"""Initial schema: the Jaaz tables (v1-v3) plus tasks and change counters.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _stamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "canvases",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("data", sa.Text),
        sa.Column("description", sa.Text, server_default=""),
        sa.Column("thumbnail", sa.Text, server_default=""),
        *_stamps(),
    )
    op.create_index("idx_canvases_updated_at", "canvases", ["updated_at", "id"])

    op.create_table(
        "chat_sessions",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("canvas_id", sa.String, sa.ForeignKey("canvases.id", ondelete="CASCADE")),
        *_stamps(),
        sa.Column("title", sa.Text),
        sa.Column("model", sa.Text),
        sa.Column("provider", sa.Text),
    )
    op.create_index("idx_chat_sessions_updated_at", "chat_sessions", ["updated_at", "id"])
    op.create_index("idx_chat_sessions_canvas_id", "chat_sessions", ["canvas_id", "updated_at"])

    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "session_id",
            sa.String,
            sa.ForeignKey("chat_sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("role", sa.Text),
        sa.Column("message", sa.Text),
        *_stamps(),
    )
    op.create_index("idx_chat_messages_session_id_id", "chat_messages", ["session_id", "id"])

    op.create_table(
        "comfy_workflows",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("api_json", sa.Text),
        sa.Column("description", sa.Text, server_default=""),
        sa.Column("inputs", sa.Text),
        sa.Column("outputs", sa.Text),
        *_stamps(),
    )
    op.create_index("idx_comfy_workflows_updated_at", "comfy_workflows", ["updated_at"])

    op.create_table(
        "tasks",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("progress", sa.Integer, nullable=False, server_default="0"),
        sa.Column("tool", sa.Text),
        sa.Column("provider", sa.Text),
        sa.Column("params", sa.Text),
        sa.Column("result_url", sa.Text),
        sa.Column("results", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("canvas_id", sa.String),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        *_stamps(),
    )
    op.create_index("idx_tasks_status", "tasks", ["status"])

    counters = op.create_table(
        "change_counters",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.bulk_insert(counters, [{"name": "sessions", "version": 0}])


def downgrade() -> None:
    for table in ("change_counters", "tasks", "comfy_workflows", "chat_messages"):
        op.drop_table(table)
    op.drop_table("chat_sessions")
    op.drop_table("canvases")
