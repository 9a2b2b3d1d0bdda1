"""tenant_job.error_code; failures already stored lose the driver text that could quote SQL parameters

Revision ID: c3b9d2e41f07
Revises: a7720bbfd5fa
Create Date: 2026-11-30 10:00:00.000000

A failed job used to store ``f"{type(exc).__name__}: {exc}"``: for a database error that is SQLAlchemy's
text with the statement's parameters (a failed provisioning showed the first administrator's password
hash to every staff role). Such rows keep the exception's class name and lose the rest; failed rows get
the code the job path now stores (``<kind>_failed``).
"""
import re

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c3b9d2e41f07'
down_revision = 'a7720bbfd5fa'
branch_labels = None
depends_on = None

SCRUBBED = "{cls}: the details were removed because they could quote the failed statement's values; see the server log."


def upgrade():
    with op.batch_alter_table('tenant_job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('error_code', sa.String(length=40), nullable=True))

    job = sa.table('tenant_job', sa.column('id', sa.String), sa.column('kind', sa.String),
                   sa.column('status', sa.String), sa.column('error', sa.Text), sa.column('error_code', sa.String))
    conn = op.get_bind()
    # Only SQLAlchemy's statement errors quote parameters, and their text always carries "[SQL: ...]".
    leaky = conn.execute(sa.select(job.c.id, job.c.error).where(
        sa.or_(job.c.error.contains('[SQL:'), job.c.error.contains('[parameters:')))).all()
    for job_id, error in leaky:
        match = re.match(r"\s*([A-Za-z_][A-Za-z0-9_.]*)\s*:", error or "")
        text = SCRUBBED.format(cls=match.group(1) if match else "Error")
        conn.execute(sa.update(job).where(job.c.id == job_id).values(error=text))
    conn.execute(sa.update(job).where(job.c.status == 'failed', job.c.error_code.is_(None))
                 .values(error_code=job.c.kind + '_failed'))  # concat() on MySQL, || on SQLite


def downgrade():
    with op.batch_alter_table('tenant_job', schema=None) as batch_op:
        batch_op.drop_column('error_code')
