"""The tenant schema and its own Alembic environment, on a fresh MariaDB database and a SQLite file.

No Flask app here: these tests build their own throwaway tenant databases. MariaDB is required (the
run fails if it is unreachable); TEST_DATABASES=sqlite runs the SQLite half alone, as in tests/conftest.py.
"""

import ast
import os
import secrets
import subprocess
import sys
import threading
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.orm import Session

from datasource_registry import tenant_schema
from tenant_runtime.models import (
    BUSINESS_TABLE_EXCLUSIONS,
    SysDept,
    SysImpersonation,
    SysToken,
    SysUser,
    TenantBase,
    TenantIdentity,
)
from tests.conftest import BACKENDS, MYSQL_SERVER, create_mysql_database

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TENANT_TABLES = set(TenantBase.metadata.tables)
HEAD = "0020_dept_name_per_parent"


def _mysql_engine():
    name = f"tschema_{secrets.token_hex(4)}"
    server = sa.create_engine(MYSQL_SERVER)
    try:
        create_mysql_database(server, name)
    except sa.exc.OperationalError as exc:
        server.dispose()
        pytest.fail(f"MariaDB is required for the tenant schema tests and is not reachable at {MYSQL_SERVER}: {exc}")
    engine = sa.create_engine(f"{MYSQL_SERVER}/{name}?charset=utf8mb4")

    def drop():
        engine.dispose()
        with server.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()

    return engine, drop


def _make_engine(backend, tmp_path):
    if backend == "mysql":
        return _mysql_engine()
    engine = sa.create_engine(f"sqlite:///{tmp_path}/tenant.sqlite3")
    return engine, engine.dispose


@pytest.fixture(params=BACKENDS)
def engine(request, tmp_path):
    """A fresh, empty tenant database (MariaDB database or SQLite file), dropped afterwards."""
    eng, drop = _make_engine(request.param, tmp_path)
    yield eng
    drop()


@pytest.fixture
def mysql_engine(tmp_path):
    if "mysql" not in BACKENDS:
        pytest.skip("TEST_DATABASES excludes mysql")
    eng, drop = _make_engine("mysql", tmp_path)
    yield eng
    drop()


@pytest.fixture
def migrated(engine):
    with engine.connect() as conn:
        tenant_schema.upgrade(conn)
    return engine


def _tables(engine):
    return set(sa.inspect(engine).get_table_names())


def _add_user(session, username="zhangsan", full_name="张三丰", dept_name="客服部"):
    dept = SysDept(dept_name=dept_name)
    user = SysUser(username=username, full_name=full_name, dept=dept, password_hash="x")
    session.add(user)
    session.flush()
    return user


# --- migrating ------------------------------------------------------------------------------------


def test_script_location_and_head():
    assert os.path.isabs(tenant_schema.SCRIPT_LOCATION)
    assert tenant_schema.SCRIPT_LOCATION == os.path.join(ROOT, "migrations", "tenant")
    assert tenant_schema.head_revision() == HEAD


def test_upgrade_on_empty_database_reaches_head_and_creates_every_table(engine):
    assert _tables(engine) == set()
    with engine.connect() as conn:
        assert tenant_schema.current_revision(conn) is None
        assert tenant_schema.is_current(conn) is False
        assert tenant_schema.upgrade(conn) == HEAD
        assert not conn.in_transaction()
    assert _tables(engine) == TENANT_TABLES | {"alembic_version"}
    assert set(TenantBase.metadata.tables) == TENANT_TABLES


def test_upgrade_is_committed_without_the_caller_committing(engine):
    conn = engine.connect()
    tenant_schema.upgrade(conn)
    conn.close()  # a commit left to the caller would be rolled back here
    engine.dispose()
    with engine.connect() as fresh:
        assert tenant_schema.current_revision(fresh) == HEAD
        assert tenant_schema.is_current(fresh)
    assert TENANT_TABLES <= _tables(engine)


def test_upgrade_twice_is_harmless_and_keeps_data(engine):
    with engine.connect() as conn:
        assert tenant_schema.upgrade(conn) == HEAD
        with Session(conn) as session:
            _add_user(session)
            session.commit()
        assert tenant_schema.upgrade(conn) == HEAD
        assert tenant_schema.upgrade(conn, "head") == HEAD
        assert not conn.in_transaction()
        assert conn.execute(sa.select(sa.func.count()).select_from(SysUser.__table__)).scalar() == 1
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all() == [HEAD]
        conn.rollback()


def test_current_revision_before_and_after_leaves_transaction_state_alone(engine):
    with engine.connect() as conn:
        assert tenant_schema.current_revision(conn) is None
        assert not conn.in_transaction()  # reading started a transaction; it was ended
        tenant_schema.upgrade(conn)
        assert tenant_schema.current_revision(conn) == HEAD
        assert tenant_schema.is_current(conn)
        assert not conn.in_transaction()
        # Inside the caller's own transaction the read neither commits nor ends it.
        with conn.begin():
            conn.execute(sa.insert(TenantIdentity.__table__).values(tenant_id=7, enterprise_no="E0007",
                                                                    created_at=datetime(2026, 1, 1)))
            assert tenant_schema.current_revision(conn) == HEAD
            assert conn.in_transaction()
        assert conn.execute(sa.select(TenantIdentity.__table__.c.tenant_id)).scalar() == 7
        conn.rollback()


def test_upgrade_refuses_a_connection_in_a_transaction(engine):
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
        with pytest.raises(tenant_schema.TenantSchemaError, match="no transaction in progress"):
            tenant_schema.upgrade(conn)
        conn.rollback()
        assert tenant_schema.current_revision(conn) is None
    with engine.begin() as conn, pytest.raises(tenant_schema.TenantSchemaError):
        tenant_schema.upgrade(conn)
    assert _tables(engine) == set()


def test_downgrade_to_base_and_back(migrated):
    with migrated.connect() as conn:
        command.downgrade(tenant_schema.alembic_config(conn), "base")
        conn.commit()
        assert tenant_schema.current_revision(conn) is None
        assert _tables(migrated) == {"alembic_version"}
        assert tenant_schema.upgrade(conn) == HEAD
    assert _tables(migrated) == TENANT_TABLES | {"alembic_version"}


def test_0006_gives_leads_a_soft_delete_and_existing_administrators_lead_restore(engine):
    """A tenant already at 0005: its administrator role (as it was edited there) gains lead.pools and
    lead.restore, other roles nothing; crm_lead gains deleted_at/deleted_by, and a downgrade takes them away."""
    roles = sa.table("sys_role", sa.column("code"), sa.column("permissions"))
    with engine.connect() as conn:
        tenant_schema.upgrade(conn, "0005_handover_pool_leads")
        for code, permissions in (("admin", "lead.view lead.delete"), ("sales", "lead.view")):
            conn.execute(roles.update().where(roles.c.code == code).values(permissions=permissions))
        conn.commit()
        assert tenant_schema.upgrade(conn, "0006_pool_clock_and_list_indexes") == "0006_pool_clock_and_list_indexes"
        granted = dict(conn.execute(sa.select(roles.c.code, roles.c.permissions)
                                    .where(roles.c.code.in_(["admin", "sales"]))).all())
        assert granted == {"admin": "lead.delete lead.pools lead.restore lead.view", "sales": "lead.view"}
        conn.rollback()
        columns = {c["name"] for c in sa.inspect(conn).get_columns("crm_lead")}
        assert {"deleted_at", "deleted_by"} <= columns
        command.downgrade(tenant_schema.alembic_config(conn), "0005_handover_pool_leads")
        conn.commit()
        columns = {c["name"] for c in sa.inspect(conn).get_columns("crm_lead")}
        assert not {"deleted_at", "deleted_by"} & columns
        conn.rollback()


def test_0014_grants_import_to_the_built_in_administrator_and_sales_manager_only(engine):
    """A tenant at 0013 whose administrator edited the roles: 管理员 and 销售经理 gain customer.import,
    contact.import and lead.import beside what they hold, other roles nothing; a downgrade takes exactly those
    away again."""
    roles = sa.table("sys_role", sa.column("code"), sa.column("permissions"))
    edited = {"admin": "customer.view people.manage", "sales_manager": "customer.view", "sales": "customer.view"}
    with engine.connect() as conn:
        tenant_schema.upgrade(conn, "0013_digit_words")
        for code, permissions in edited.items():
            conn.execute(roles.update().where(roles.c.code == code).values(permissions=permissions))
        conn.commit()

        def held():
            found = dict(conn.execute(sa.select(roles.c.code, roles.c.permissions)
                                      .where(roles.c.code.in_(sorted(edited)))).all())
            conn.rollback()
            return found

        assert tenant_schema.upgrade(conn, "0014_import_permissions") == "0014_import_permissions"
        assert held() == {"admin": "contact.import customer.import customer.view lead.import people.manage",
                          "sales_manager": "contact.import customer.import customer.view lead.import",
                          "sales": "customer.view"}
        command.downgrade(tenant_schema.alembic_config(conn), "0013_digit_words")
        conn.commit()
        assert held() == edited


def _customers_at(conn, revision, names):
    """A tenant at ``revision`` with a department, a user and a customer per name (numbered, in order)."""
    tenant_schema.upgrade(conn, revision)
    dept = conn.execute(sa.text("INSERT INTO sys_dept (dept_name, created_at) VALUES ('总部', '2026-01-01')"))
    user = conn.execute(sa.text("INSERT INTO sys_user (username, full_name, dept_id, password_hash, created_at, "
                                "updated_at) VALUES ('u', 'u', :d, 'x', '2026-01-01', '2026-01-01')"),
                        {"d": dept.lastrowid}).lastrowid
    conn.execute(sa.text("INSERT INTO crm_customer (customer_name, name_key, customer_type, level, status, "
                         "deal_status, created_by, created_at, updated_at) VALUES (:n, :n, 'enterprise', "
                         "'normal', 'active', 'potential', :u, '2026-01-01', '2026-01-01')"),
                 [{"n": f"{n}{i}", "u": user} for i, n in enumerate(names)])
    conn.commit()


def test_0008_gives_existing_customers_their_pinyin_sort_key(engine):
    """Customers already there at 0007 get their name's pinyin (more than one batch of them), and a downgrade
    takes the column away."""
    from tenant_runtime.core.pinyin import pinyin_key

    names = ["上海金地实业有限公司", "北京雅居实业有限公司", "重庆保利教育科技有限公司", "长沙星河物流有限公司"] * 600
    with engine.connect() as conn:
        _customers_at(conn, "0007_pool_list_index", names)
        assert tenant_schema.upgrade(conn) == HEAD
        rows = conn.execute(sa.text("SELECT customer_name, name_pinyin FROM crm_customer ORDER BY id")).all()
        assert len(rows) == 2400 and all(key == pinyin_key(name) for name, key in rows)
        ordered = [name for (name,) in conn.execute(sa.text(
            "SELECT customer_name FROM crm_customer WHERE id <= 4 ORDER BY name_pinyin")).all()]
        assert ordered == ["北京雅居实业有限公司1", "长沙星河物流有限公司3", "重庆保利教育科技有限公司2", "上海金地实业有限公司0"]
        conn.rollback()
        command.downgrade(tenant_schema.alembic_config(conn), "0007_pool_list_index")
        conn.commit()
        assert "name_pinyin" not in {c["name"] for c in sa.inspect(conn).get_columns("crm_customer")}
        conn.rollback()


def _word_index_is_filled_and_can_run_again(engine, conn, before, table, key, source, names, expected_rows):
    """At ``before`` the records of ``source`` (more than one batch) are there; the upgrade gives the words (pairs
    of Han characters, ``expected_rows`` of them, and runs of digits: 0013) of each record's ``names`` (its columns)
    in the word index ``table``; a run interrupted after some batches, run again, gives the same index, no row
    twice; a downgrade drops the table."""
    from tenant_runtime.core.words import codes

    def index():
        return sorted(conn.execute(sa.text(f"SELECT {key}, word FROM {table}")).all())

    assert tenant_schema.upgrade(conn) == HEAD
    expected = sorted((rid, code) for rid, *texts in conn.execute(sa.text(
        f"SELECT id, {', '.join(names)} FROM {source}")).all() for code in codes(*texts))
    assert index() == expected and len([row for row in expected if row[1] >= 10000]) == expected_rows
    conn.execute(sa.text(f"DELETE FROM {table} WHERE {key} > 1000"))  # as if stopped there
    conn.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": before})
    conn.commit()
    assert tenant_schema.upgrade(conn) == HEAD
    assert index() == expected
    conn.rollback()
    command.downgrade(tenant_schema.alembic_config(conn), before)
    conn.commit()
    assert table not in _tables(engine)
    conn.rollback()


def test_0009_indexes_the_words_of_existing_customers_and_can_run_again(engine):
    names = ["上海金地实业有限公司", "ABC物业", "重庆保利教育科技", "A栋B座", "长沙星河物流有限公司"] * 500
    with engine.connect() as conn:
        _customers_at(conn, "0008_customer_name_pinyin", names)
        _word_index_is_filled_and_can_run_again(engine, conn, "0008_customer_name_pinyin", "crm_customer_word",
                                                "customer_id", "crm_customer", ["customer_name", "phone"],
                                                500 * (9 + 1 + 7 + 0 + 9))


def test_0010_gives_contacts_leads_pools_and_people_their_pinyin_sort_key_and_can_run_again(engine):
    """Contacts (more than one batch), leads, lead pools and users already there at 0009 get their names'
    pinyin; a run stopped halfway (some keys still missing), run again, finishes the job; a downgrade takes the
    columns away."""
    from tenant_runtime.core.pinyin import pinyin_key

    people = ["张伟", "王芳", "曾娜", "赵磊", "阿强"]  # 曾 as a surname reads zeng
    with engine.connect() as conn:
        _customers_at(conn, "0009_customer_word_index", ["上海金地实业有限公司"])
        conn.execute(sa.text("INSERT INTO sys_user (username, full_name, dept_id, password_hash, created_at, "
                             "updated_at) VALUES (:u, :n, 1, 'x', '2026-01-01', '2026-01-01')"),
                     [{"u": f"p{i}", "n": name} for i, name in enumerate(people)])
        conn.execute(sa.text("INSERT INTO crm_contact (customer_id, contact_name, phone, created_by, created_at, "
                             "updated_at) VALUES (1, :n, :p, 1, '2026-01-01', '2026-01-01')"),
                     [{"n": people[i % 5], "p": f"+86138{i:08d}"} for i in range(2100)])
        conn.execute(sa.text("INSERT INTO crm_customer (customer_name, name_key, name_pinyin, customer_type, level, "
                             "status, deal_status, created_by, created_at, updated_at) VALUES (:n, :n, :k, :t, "
                             "'normal', 'active', 'potential', 1, '2026-01-01', '2026-01-01')"),
                     [{"n": name, "k": pinyin_key(name), "t": kind}  # as 0008 and the code before 0010 keyed them
                      for name, kind in (("曾华", "individual"), ("曾经沧海物业", "enterprise"))])
        conn.execute(sa.text("INSERT INTO crm_lead_pool (pool_name, created_at) VALUES ('上海池', '2026-01-01'), "
                             "('北京池', '2026-01-01')"))
        conn.execute(sa.text("INSERT INTO crm_lead (lead_name, pool_id, created_by, created_at, updated_at) "
                             "VALUES (:n, 1, 1, '2026-01-01', '2026-01-01')"), [{"n": name} for name in people])
        conn.commit()

        tables = {"crm_contact": ("contact_name", True), "crm_lead": ("lead_name", "maybe"),
                  "crm_lead_pool": ("pool_name", False), "sys_user": ("full_name", True)}

        def keys():
            return {table: conn.execute(sa.text(f"SELECT {name}, name_pinyin FROM {table} ORDER BY id")).all()
                    for table, (name, _person) in tables.items()}

        assert tenant_schema.upgrade(conn) == HEAD
        found = keys()
        assert len(found["crm_contact"]) == 2100 and len(found["sys_user"]) == 6
        assert all(key == pinyin_key(name, tables[table][1]) for table, rows in found.items() for name, key in rows)
        assert [n for (n,) in conn.execute(sa.text("SELECT lead_name FROM crm_lead ORDER BY name_pinyin"))] == [
            "阿强", "王芳", "曾娜", "张伟", "赵磊"]
        assert [n for (n,) in conn.execute(sa.text("SELECT pool_name FROM crm_lead_pool ORDER BY name_pinyin"))] == [
            "北京池", "公共线索池", "上海池"]  # 0005's pool, then these two
        # an individual customer's name is a person's: 曾 reads zeng; a company's keeps ceng
        keyed = conn.execute(sa.text("SELECT customer_name, name_pinyin FROM crm_customer WHERE id > 1")).all()
        assert dict(keyed) == {"曾华": pinyin_key("曾华", True), "曾经沧海物业": pinyin_key("曾经沧海物业")}
        assert pinyin_key("曾华", True).startswith("zeng0hua0") and pinyin_key("曾华").startswith("ceng0")
        conn.execute(sa.text("UPDATE crm_contact SET name_pinyin = NULL WHERE id > 1500"))  # as if stopped there
        conn.execute(sa.text("UPDATE sys_user SET name_pinyin = NULL"))
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0009_customer_word_index'"))
        conn.commit()
        assert tenant_schema.upgrade(conn) == HEAD
        assert keys() == found
        indexes = {i["name"] for table in ("crm_contact", "crm_lead") for i in sa.inspect(conn).get_indexes(table)}
        assert {"ix_crm_contact_name_sort", "ix_crm_lead_name_sort", "ix_crm_contact_phone"} <= indexes
        conn.rollback()
        command.downgrade(tenant_schema.alembic_config(conn), "0009_customer_word_index")
        conn.commit()
        assert all("name_pinyin" not in {c["name"] for c in sa.inspect(conn).get_columns(table)}
                   for table in ("crm_contact", "crm_lead", "crm_lead_pool", "sys_user"))
        conn.rollback()


def test_0016_keys_names_syllable_by_syllable_and_can_run_again(engine):
    """Keys written by 0008/0010 joined the syllables (liuyi before lixiang): 0016 keys every row again so that
    李 sorts before 刘 (a person's name, an individual customer's, a company's as a company's), and run again
    after a stop it finishes with the same keys."""
    from tenant_runtime.core.pinyin import pinyin_key

    people = ["刘一", "李想", "刘洋", "李晓东"]
    joined = {"刘一": "liuyi 刘一", "李想": "lixiang 李想", "刘洋": "liuyang 刘洋", "李晓东": "lixiaodong 李晓东"}
    with engine.connect() as conn:
        _customers_at(conn, "0015_level_sort", ["刘家物业有限公司", "李家物业有限公司"])
        conn.execute(sa.text("INSERT INTO sys_user (username, full_name, name_pinyin, dept_id, password_hash, "
                             "created_at, updated_at) VALUES (:u, :n, :k, 1, 'x', '2026-01-01', '2026-01-01')"),
                     [{"u": f"p{i}", "n": name, "k": joined[name]} for i, name in enumerate(people)])
        conn.execute(sa.text("INSERT INTO crm_customer (customer_name, name_key, name_pinyin, customer_type, level, "
                             "status, deal_status, created_by, created_at, updated_at) VALUES (:n, :n, :k, "
                             "'individual', 'normal', 'active', 'potential', 1, '2026-01-01', '2026-01-01')"),
                     [{"n": name, "k": joined[name]} for name in people])
        conn.execute(sa.text("UPDATE crm_customer SET name_pinyin = 'liujiawuyeyouxiangongsi x' WHERE id = 1"))
        conn.commit()
        assert tenant_schema.upgrade(conn) == HEAD

        def order(sql):
            return [n for (n,) in conn.execute(sa.text(sql))]

        assert order("SELECT full_name FROM sys_user WHERE username LIKE 'p%' ORDER BY name_pinyin") == [
            "李想", "李晓东", "刘洋", "刘一"]
        assert order("SELECT customer_name FROM crm_customer ORDER BY name_pinyin") == [
            "李家物业有限公司1", "李想", "李晓东", "刘家物业有限公司0", "刘洋", "刘一"]
        keyed = conn.execute(sa.text("SELECT customer_name, customer_type, name_pinyin FROM crm_customer")).all()
        assert all(key == pinyin_key(name, kind == "individual") for name, kind, key in keyed)
        before = conn.execute(sa.text("SELECT id, name_pinyin FROM sys_user ORDER BY id")).all()
        conn.execute(sa.text("UPDATE sys_user SET name_pinyin = 'x' WHERE username = 'p3'"))  # as if stopped there
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0015_level_sort'"))
        conn.commit()
        assert tenant_schema.upgrade(conn) == HEAD
        assert conn.execute(sa.text("SELECT id, name_pinyin FROM sys_user ORDER BY id")).all() == before
        conn.rollback()


def test_0011_indexes_the_words_of_existing_contacts_and_can_run_again(engine):
    people = ["欧阳明月", "张伟", "A栋王", "李", "司马相如"]
    emails = [None, "zw@example.com", "王@例子.中国", None, None]  # an address may be written in Chinese
    with engine.connect() as conn:
        _customers_at(conn, "0010_names_sort_by_pinyin", ["上海金地实业有限公司"])
        conn.execute(sa.text("INSERT INTO crm_contact (customer_id, contact_name, email, phone, created_by, "
                             "created_at, updated_at) VALUES (1, :n, :e, :p, 1, '2026-01-01', '2026-01-01')"),
                     [{"n": people[i % 5], "e": emails[i % 5], "p": f"+86138{i:08d}"} for i in range(2500)])
        conn.commit()
        _word_index_is_filled_and_can_run_again(engine, conn, "0010_names_sort_by_pinyin", "crm_contact_word",
                                                "contact_id", "crm_contact", ["contact_name", "email", "phone"],
                                                500 * (3 + 1 + (1 + 2) + 0 + 3))


def test_0012_indexes_the_words_of_existing_leads_name_and_company_and_can_run_again(engine):
    leads = [("欧阳明月", "上海金地物业"), ("张伟", None), ("A栋王", "ABC"), ("李", "龙腾"), ("物业", "金地物业")]
    with engine.connect() as conn:
        _customers_at(conn, "0011_contact_word_index", ["上海金地实业有限公司"])
        conn.execute(sa.text("INSERT INTO crm_lead (lead_name, company, pool_id, created_by, created_at, "
                             "updated_at) VALUES (:n, :c, 1, 1, '2026-01-01', '2026-01-01')"),
                     [{"n": leads[i % 5][0], "c": leads[i % 5][1]} for i in range(2500)])
        conn.commit()
        # 物业 is in both of the last lead's columns: one row
        _word_index_is_filled_and_can_run_again(engine, conn, "0011_contact_word_index", "crm_lead_word",
                                                "lead_id", "crm_lead", ["lead_name", "company", "phone"],
                                                500 * ((3 + 5) + 1 + 1 + 1 + (1 + 2)))


def test_0013_adds_the_runs_of_digits_of_names_and_phones_and_can_run_again(engine):
    """Customers (more than one batch), contacts and leads already there at 0012 get the runs of four digits of
    their searched columns and phone in their word index beside the pairs 0009-0012 gave them; a run stopped
    halfway, run again, gives the same index; a downgrade takes the digits away and leaves the pairs."""
    from tenant_runtime.core.words import codes, pairs

    tables = (("crm_customer_word", "customer_id", "crm_customer", "customer_name, phone"),
              ("crm_contact_word", "contact_id", "crm_contact", "contact_name, email, phone"),
              ("crm_lead_word", "lead_id", "crm_lead", "lead_name, company, phone"))
    with engine.connect() as conn:
        _customers_at(conn, "0012_lead_word_index", ["金地3号楼1201室"] * 2100)
        conn.execute(sa.text("UPDATE crm_customer SET phone = :p WHERE id = :i"),
                     [{"p": f"+86139{i:08d}", "i": i} for i in range(1, 2101)])
        conn.execute(sa.text("INSERT INTO crm_contact (customer_id, contact_name, email, phone, created_by, "
                             "created_at, updated_at) VALUES (1, '张伟', 'zw2026@example.com', '+8613800138101', 1, "
                             "'2026-01-01', '2026-01-01')"))
        conn.execute(sa.text("INSERT INTO crm_lead (lead_name, company, phone, pool_id, created_by, created_at, "
                             "updated_at) VALUES ('王芳', '7天物业', '+8613700137000', 1, 1, '2026-01-01', '2026-01-01')"))

        def index(table, key):
            return sorted(conn.execute(sa.text(f"SELECT {key}, word FROM {table}")).all())

        def expected(source, columns, words):
            return sorted((row[0], code) for row in conn.execute(sa.text(f"SELECT id, {columns} FROM {source}"))
                          for code in words(*row[1:]))

        for table, key, source, columns in tables:  # the pairs, as the ORM wrote them at 0012
            conn.execute(sa.text(f"INSERT INTO {table} (word, {key}) VALUES (:w, :i)"),
                         [{"w": code, "i": i} for i, code in expected(source, columns, pairs)])
        conn.commit()

        assert tenant_schema.upgrade(conn) == HEAD
        found = {table: index(table, key) for table, key, _source, _columns in tables}
        for table, key, source, columns in tables:
            assert found[table] == expected(source, columns, codes)
        # 1201 of the name, 8613, 6139, ... of the phone; 2026 of the e-mail; 7天 is no run of four
        assert (1, 1201) in found["crm_customer_word"] and (1, 6139) in found["crm_customer_word"]
        assert (1, 2026) in found["crm_contact_word"] and (1, 8101) in found["crm_contact_word"]
        conn.execute(sa.text("DELETE FROM crm_customer_word WHERE customer_id > 1000 AND word < 10000"))  # stopped
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0012_lead_word_index'"))
        conn.commit()
        assert tenant_schema.upgrade(conn) == HEAD
        assert {table: index(table, key) for table, key, _source, _columns in tables} == found
        conn.rollback()
        command.downgrade(tenant_schema.alembic_config(conn), "0012_lead_word_index")
        conn.commit()
        for table, key, source, columns in tables:
            assert index(table, key) == expected(source, columns, pairs)
        conn.rollback()


def test_0019_keeps_a_handover_items_detail_and_leaves_older_items_their_description(engine):
    """At 0018 a handover item holds its description alone; 0019 adds ``item_detail``, empty on that item (its
    page shows the description), and can run again; a downgrade drops the column."""
    with engine.connect() as conn:
        _customers_at(conn, "0018_background_imports", ["上海金地实业有限公司"])
        handover = conn.execute(sa.text(
            "INSERT INTO crm_handover (from_owner_id, to_owner_id, handover_reason, current_stage, created_by, "
            "created_at, updated_at) VALUES (1, 1, 'manual', 'preparation', 1, '2026-01-01', '2026-01-01')")).lastrowid
        conn.execute(sa.text("INSERT INTO crm_handover_item (handover_id, customer_id, item_type, item_description) "
                             "VALUES (:h, 1, 'basic_info', '客户 上海金地实业有限公司0')"), {"h": handover})
        conn.commit()
        assert tenant_schema.upgrade(conn) == HEAD
        assert conn.execute(sa.text("SELECT item_description, item_detail FROM crm_handover_item")).one() == \
            ("客户 上海金地实业有限公司0", None)
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0018_background_imports'"))
        conn.commit()
        assert tenant_schema.upgrade(conn) == HEAD  # the column is there already: nothing to do
        conn.rollback()
        command.downgrade(tenant_schema.alembic_config(conn), "0018_background_imports")
        conn.commit()
        assert "item_detail" not in {c["name"] for c in sa.inspect(conn).get_columns("crm_handover_item")}
        conn.rollback()


def test_0020_renames_twin_departments_under_one_parent_and_then_refuses_another(engine):
    """At 0019 a parent may hold three 销售一组. 0020 keeps the oldest under its name and renames each later twin ``<name>（<id>）``; a namesake
    under another parent keeps its name; afterwards the database itself refuses a twin; a downgrade allows
    one again."""
    dept = sa.table("sys_dept", sa.column("id"), sa.column("parent_id"), sa.column("dept_name"),
                    sa.column("created_at"))

    def add(name, parent):
        return conn.execute(dept.insert().values(dept_name=name, parent_id=parent,
                                                 created_at=datetime(2026, 1, 1))).lastrowid

    with engine.connect() as conn:
        tenant_schema.upgrade(conn, "0019_handover_item_detail")
        root = add("公司", None)
        sales, service = add("销售部", root), add("客服部", root)
        first, second, third = add("销售一组", sales), add("销售一组", sales), add("销售一组", sales)
        elsewhere = add("销售一组", service)
        conn.commit()
        assert tenant_schema.upgrade(conn) == HEAD
        names = dict(conn.execute(sa.select(dept.c.id, dept.c.dept_name)).all())
        conn.rollback()
        assert names[first] == "销售一组" and names[elsewhere] == "销售一组"
        assert (names[second], names[third]) == (f"销售一组（{second}）", f"销售一组（{third}）")
        with pytest.raises(sa.exc.IntegrityError):
            add("销售一组", sales)
        conn.rollback()
        command.downgrade(tenant_schema.alembic_config(conn), "0019_handover_item_detail")
        conn.commit()
        add("销售一组", sales)
        conn.commit()


def test_migration_matches_models(migrated):
    with migrated.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), TenantBase.metadata)
        conn.rollback()
    assert diffs == []


def test_env_configures_batch_mode_only_for_sqlite_and_compare_type(engine):
    seen = {}

    def capture(rev, context):
        seen["batch"] = context.opts.get("render_as_batch")
        seen["compare_type"] = context.opts.get("compare_type")
        return []

    from alembic.runtime.environment import EnvironmentContext

    with engine.connect() as conn:
        config = tenant_schema.alembic_config(conn)
        script = ScriptDirectory.from_config(config)
        with EnvironmentContext(config, script, fn=capture):
            script.run_env()
        conn.rollback()
    assert seen == {"batch": engine.dialect.name == "sqlite", "compare_type": True}


# --- the schema at work ---------------------------------------------------------------------------


def test_chinese_text_and_emoji_round_trip(migrated):
    with Session(migrated) as session:
        user = _add_user(session, username="张三丰😀", full_name="张三丰 🀄", dept_name="客服部·二组")
        session.commit()
        user_id = user.id
    with migrated.connect() as conn:
        row = conn.execute(
            sa.select(SysUser.__table__.c.username, SysUser.__table__.c.full_name, SysDept.__table__.c.dept_name)
            .join(SysDept.__table__)
            .where(SysUser.__table__.c.id == user_id)
        ).one()
        conn.rollback()
    assert tuple(row) == ("张三丰😀", "张三丰 🀄", "客服部·二组")


def test_mysql_tables_are_utf8mb4(mysql_engine):
    with mysql_engine.connect() as conn:
        tenant_schema.upgrade(conn)
        rows = conn.execute(sa.text(
            "SELECT TABLE_NAME, TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"
        )).all()
        columns = conn.execute(sa.text(
            "SELECT TABLE_NAME, COLUMN_NAME, CHARACTER_SET_NAME FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND CHARACTER_SET_NAME IS NOT NULL"
        )).all()
        conn.rollback()
    collations = {name: coll for name, coll in rows}
    for table in TENANT_TABLES:
        assert collations[table] == "utf8mb4_unicode_ci", table
    assert {c for t, _, c in columns if t in TENANT_TABLES} == {"utf8mb4"}


def test_defaults_are_naive_utc_and_computed_per_row(migrated):
    from tenant_runtime.models import utcnow

    start = utcnow().replace(microsecond=0)
    with Session(migrated) as session:
        user = _add_user(session)
        session.commit()
        assert user.status == 1 and user.is_enabled
        assert user.is_admin is False
        assert user.dept.sort == 0
        assert user.created_at.tzinfo is None
        assert start <= user.created_at.replace(microsecond=0) <= utcnow() + timedelta(seconds=1)
        first_updated = user.updated_at
        user.full_name = "张无忌"
        session.commit()
        assert user.updated_at >= first_updated
        assert user.updated_at.replace(microsecond=0) >= start

    # Server defaults cover plain SQL inserts too.
    with migrated.connect() as conn:
        dept_id = conn.execute(sa.insert(SysDept.__table__).values(dept_name="总部", created_at=utcnow())).inserted_primary_key[0]
        conn.execute(sa.text(
            "INSERT INTO sys_user (username, full_name, dept_id, password_hash, created_at, updated_at) "
            "VALUES ('raw', '原始', :d, 'x', :t, :t)"
        ), {"d": dept_id, "t": utcnow()})
        status = conn.execute(sa.text("SELECT status FROM sys_user WHERE username = 'raw'")).scalar_one()
        conn.commit()
    assert status == 1


def test_username_uniqueness_is_enforced_by_the_database(migrated):
    with Session(migrated) as session:
        _add_user(session, username="lisi")
        session.commit()
        dept = session.scalars(sa.select(SysDept)).first()
        session.add(SysUser(username="lisi", full_name="李四", dept=dept, password_hash="x"))
        with pytest.raises(sa.exc.IntegrityError):
            session.commit()
        session.rollback()
        assert session.scalar(sa.select(sa.func.count()).select_from(SysUser)) == 1


def test_token_hash_uniqueness_and_relations(migrated):
    from tenant_runtime.models import utcnow

    with Session(migrated) as session:
        user = _add_user(session)
        expires = utcnow() + timedelta(days=1)
        session.add(SysToken(user=user, token_hash="a" * 64, expires_at=expires))
        session.add(SysImpersonation(staff_id=3, staff_username="ops1", user=user, reason="工单 #42 排查"))
        session.commit()
        session.add(SysToken(user=user, token_hash="a" * 64, expires_at=expires))
        with pytest.raises(sa.exc.IntegrityError):
            session.commit()
        session.rollback()
        record = session.scalars(sa.select(SysImpersonation)).one()
        assert record.user.username == "zhangsan" and record.reason == "工单 #42 排查"
        assert record.created_at.tzinfo is None and record.ip is None


def test_tenant_identity_holds_a_single_row(migrated):
    with Session(migrated) as session:
        session.add(TenantIdentity(tenant_id=42, enterprise_no="ENT20260001"))
        session.commit()
        identity = session.get(TenantIdentity, 1)
        assert (identity.tenant_id, identity.enterprise_no) == (42, "ENT20260001")
    # A second row: same id -> primary key; another id -> CHECK constraint. PyMySQL reports MariaDB's
    # CHECK failure (error 4025) as OperationalError, not IntegrityError.
    for row_id, errors in ((1, sa.exc.IntegrityError), (2, (sa.exc.IntegrityError, sa.exc.OperationalError))):
        with migrated.connect() as conn:
            with pytest.raises(errors, match="single_row|UNIQUE|PRIMARY|Duplicate"):
                conn.execute(sa.insert(TenantIdentity.__table__).values(
                    id=row_id, tenant_id=43, enterprise_no="ENT20260002", created_at=datetime(2026, 1, 1)))
            conn.rollback()


def test_business_table_exclusions():
    assert BUSINESS_TABLE_EXCLUSIONS == {"tenant_identity", "alembic_version", "sys_token", "sys_impersonation",
                                         "sys_session", "sys_password_token", "crm_pool_setting", "crm_lead_pool"}
    assert BUSINESS_TABLE_EXCLUSIONS - {"alembic_version"} <= set(TenantBase.metadata.tables)


# --- concurrency ----------------------------------------------------------------------------------


def test_concurrent_upgrades_of_one_database_both_succeed(engine):
    results, errors = [], []

    def run():
        try:
            with engine.connect() as conn:
                results.append(tenant_schema.upgrade(conn))
        except Exception as exc:  # noqa: BLE001  (reported by the assertion below)
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results == [HEAD] * 3


def test_upgrade_waits_for_another_process_holding_the_mysql_lock(mysql_engine):
    with mysql_engine.connect() as holder, mysql_engine.connect() as conn:
        database = holder.execute(sa.text("SELECT DATABASE()")).scalar()
        lock = tenant_schema._lock_name(database)
        assert len(lock) <= 64
        assert holder.execute(sa.text("SELECT GET_LOCK(:n, 0)"), {"n": lock}).scalar() == 1
        with pytest.raises(tenant_schema.TenantSchemaError, match="still runs"):
            tenant_schema.upgrade(conn, lock_timeout=1)
        assert not conn.in_transaction()
        assert tenant_schema.current_revision(conn) is None
        holder.execute(sa.text("SELECT RELEASE_LOCK(:n)"), {"n": lock})
        holder.rollback()
        assert tenant_schema.upgrade(conn) == HEAD
        # ... and the lock was released again afterwards.
        assert holder.execute(sa.text("SELECT IS_FREE_LOCK(:n)"), {"n": lock}).scalar() == 1
        holder.rollback()


# --- separation from the control database ---------------------------------------------------------


def test_tenant_and_control_metadata_are_disjoint():
    import platform_admin.models  # noqa: F401  (registers every control model on db.metadata)
    from extensions import NAMING, db

    control, tenant = set(db.metadata.tables), set(TenantBase.metadata.tables)
    assert control and tenant
    assert TenantBase.metadata is not db.metadata
    assert not control & tenant
    assert not (control & TENANT_TABLES)
    assert not issubclass(SysUser, db.Model)
    assert TenantBase.metadata.naming_convention == NAMING


def test_control_migrations_do_not_see_the_tenant_revision():
    control = ScriptDirectory(os.path.join(ROOT, "migrations"))
    assert HEAD not in {script.revision for script in control.walk_revisions()}
    tenant = ScriptDirectory(tenant_schema.SCRIPT_LOCATION)
    assert {script.revision for script in tenant.walk_revisions()} == {
        "0001_tenant_initial", "0002_sessions_and_password_links", "0003_crm_core", "0005_handover_pool_leads",
        "0006_pool_clock_and_list_indexes", "0007_pool_list_index", "0008_customer_name_pinyin",
        "0009_customer_word_index", "0010_names_sort_by_pinyin", "0011_contact_word_index", "0012_lead_word_index",
        "0013_digit_words", "0014_import_permissions", "0015_level_sort", "0016_pinyin_syllables", "0017_pinyin_search",
        "0018_background_imports", "0019_handover_item_detail", HEAD}


def test_registry_does_not_import_the_tenant_runtime():
    code = (
        "import sys; import datasource_registry.tenant_schema; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tenant_runtime', 'flask', 'app', 'extensions')); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_env_py_imports_neither_flask_nor_the_app():
    with open(os.path.join(tenant_schema.SCRIPT_LOCATION, "env.py"), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"flask", "flask_sqlalchemy", "flask_migrate", "app", "extensions", "platform_admin"}
    assert "tenant_runtime" in imported
