"""A spreadsheet import too large to run within a request (``io/import_jobs.py``): the file waits here for a
worker, which reports its progress and its outcome on the same row."""

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from ..models import MYSQL_TABLE_OPTIONS, IdType, TenantBase, utcnow

# queued -> checking -> importing -> done; or checking -> invalid (nothing written); failed when the job
# stopped on an error (what it had written stays, and 继续 resumes after it)
STATUS_QUEUED, STATUS_CHECKING, STATUS_IMPORTING = "queued", "checking", "importing"
STATUS_DONE, STATUS_INVALID, STATUS_FAILED = "done", "invalid", "failed"
RUNNING = (STATUS_QUEUED, STATUS_CHECKING, STATUS_IMPORTING)
FINISHED = (STATUS_DONE, STATUS_INVALID)

# the file's bytes: LONGBLOB on MariaDB (a BLOB stops at 64 KB)
FileData = LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")


class CrmImport(TenantBase):
    """One file imported in the background: who sent it, for which list, how far the job has come, and what
    it did. The file's bytes are dropped when the import has finished."""

    __tablename__ = "crm_import"
    __table_args__ = (Index("ix_crm_import_user", "user_id", "id"), Index("ix_crm_import_status", "status"),
                      MYSQL_TABLE_OPTIONS)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    resource: Mapped[str] = mapped_column(String(30))
    user_id: Mapped[int] = mapped_column(IdType)
    file_name: Mapped[str] = mapped_column(String(255))
    file_data: Mapped[bytes | None] = mapped_column(FileData, nullable=True, deferred=True)  # read by the job alone
    on_duplicate: Mapped[str] = mapped_column(String(10))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    locale: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12), default=STATUS_QUEUED)
    total_rows: Mapped[int] = mapped_column(Integer, default=0)  # data rows in the file
    checked_rows: Mapped[int] = mapped_column(Integer, default=0)  # rows the first pass has checked
    written_rows: Mapped[int] = mapped_column(Integer, default=0)  # rows the second pass has committed
    created: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
