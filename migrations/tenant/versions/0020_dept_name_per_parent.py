"""Two departments under one parent never share a name

Revision ID: 0020_dept_name_per_parent
Revises: 0019_handover_item_detail
Create Date: 2026-12-04

Tenant schema (migrations/tenant): applied to every tenant database, MySQL/MariaDB or SQLite.
``sys_dept`` gains ``uq_sys_dept_parent_name (parent_id, dept_name)``: every owner picker, the user list and
the exports name a department by its name, and two 销售一组 under one 销售部 could not be told apart. A
database that already holds such twins keeps the oldest under its name; each later one is renamed
``<name>（<id>）`` (its people, customers and data scope follow its id and are untouched), so the constraint
can be added. Names compare as the database compares them (MariaDB's collation ignores case and trailing
spaces), so the renaming finds exactly the rows the constraint would refuse.
"""
import sqlalchemy as sa
from alembic import op

revision = '0020_dept_name_per_parent'
down_revision = '0019_handover_item_detail'
branch_labels = None
depends_on = None

NAME_LENGTH = 100  # common.limits.DEPT_NAME, as the column was created
CONSTRAINT = 'uq_sys_dept_parent_name'


def upgrade():
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    present = {c['name'] for c in inspector.get_unique_constraints('sys_dept')}
    present |= {i['name'] for i in inspector.get_indexes('sys_dept') if i.get('unique')}
    if CONSTRAINT in present:  # a run that failed after adding it
        return
    dept = sa.table('sys_dept', sa.column('id'), sa.column('parent_id'), sa.column('dept_name'))
    twins = bind.execute(
        sa.select(dept.c.parent_id, dept.c.dept_name).where(dept.c.parent_id.is_not(None))
        .group_by(dept.c.parent_id, dept.c.dept_name).having(sa.func.count() > 1)).all()
    for parent_id, name in twins:
        ids = bind.execute(sa.select(dept.c.id).where(dept.c.parent_id == parent_id, dept.c.dept_name == name)
                           .order_by(dept.c.id)).scalars().all()
        for dept_id in ids[1:]:  # the oldest keeps the name
            suffix = f"（{dept_id}）"
            bind.execute(dept.update().where(dept.c.id == dept_id)
                         .values(dept_name=name.rstrip()[:NAME_LENGTH - len(suffix)] + suffix))
    with op.batch_alter_table('sys_dept') as batch:
        batch.create_unique_constraint(CONSTRAINT, ['parent_id', 'dept_name'])


def downgrade():
    with op.batch_alter_table('sys_dept') as batch:
        batch.drop_constraint(CONSTRAINT, type_='unique')
