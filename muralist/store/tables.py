"""Table definitions. Names and columns follow the Jaaz schema so its databases can be imported."""

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

canvases = Table(
    "canvases",
    metadata,
    Column("id", String, primary_key=True),
    Column("name", Text, nullable=False),
    Column("data", Text),
    Column("description", Text, server_default=""),
    Column("thumbnail", Text, server_default=""),
    Column("created_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
    Index("idx_canvases_updated_at", "updated_at", "id"),
)

chat_sessions = Table(
    "chat_sessions",
    metadata,
    Column("id", String, primary_key=True),
    Column("canvas_id", String, ForeignKey("canvases.id", ondelete="CASCADE"), nullable=True),
    Column("created_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
    Column("title", Text),
    Column("model", Text),
    Column("provider", Text),
    Index("idx_chat_sessions_updated_at", "updated_at", "id"),
    Index("idx_chat_sessions_canvas_id", "canvas_id", "updated_at"),
)

chat_messages = Table(
    "chat_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "session_id",
        String,
        ForeignKey("chat_sessions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("role", Text),
    Column("message", Text),
    Column("created_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
    Index("idx_chat_messages_session_id_id", "session_id", "id"),
)

comfy_workflows = Table(
    "comfy_workflows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False, unique=True),
    Column("api_json", Text),
    Column("description", Text, server_default=""),
    Column("inputs", Text),
    Column("outputs", Text),
    Column("created_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
    Index("idx_comfy_workflows_updated_at", "updated_at"),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", String, primary_key=True),
    Column("type", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("progress", Integer, nullable=False, server_default="0"),
    Column("tool", Text),
    Column("provider", Text),
    Column("params", Text),
    Column("result_url", Text),
    Column("results", Text),
    Column("error", Text),
    Column("canvas_id", String),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("created_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
    Index("idx_tasks_status", "status"),
)

# One row per cached collection; `version` moves with every write, so any process
# can tell whether a cached answer is still current with one indexed read.
change_counters = Table(
    "change_counters",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("version", Integer, nullable=False),
)
