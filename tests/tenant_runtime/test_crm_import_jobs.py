"""Background imports (tenant_runtime/io/import_jobs.py) on real MariaDB tenants: a file of more rows than one request
imports is kept and imported by a job (inline without Redis, by a real rq worker with it), chunk by chunk; any
invalid row and nothing is written; a job that stops resumes after its last committed chunk and creates nothing
twice; only the person who sent the file sees it; one import per company at a time; the page works without
JavaScript."""

import io
import os
import secrets
from datetime import timedelta

import pytest
import sqlalchemy as sa
from rq.job import Job, JobStatus

from common.timeutil import utcnow
from tenant_runtime.io import importing
from tests.tenant_runtime.crm import CONTROL_ON_MARIADB, page_client
from tests.tenant_runtime.test_crm_import import count, make_company, send, xlsx

pytestmark = CONTROL_ON_MARIADB


@pytest.fixture
def company(app, tenants):
    """test_crm_import's company: 王经理 (mgr) may import, s1 and s2 may not."""
    return make_company(app, tenants)


@pytest.fixture
def small_batches(app, monkeypatch):
    """More than 3 rows go to the background, 2 rows per chunk: a file of a few rows spans several chunks."""
    monkeypatch.setitem(app.config, "CRM_IMPORT_INLINE_ROWS", 3)
    monkeypatch.setitem(app.config, "CRM_IMPORT_CHUNK_ROWS", 2)


def names(n, tag=None):
    tag = tag or secrets.token_hex(3)
    return [f"后台导入{tag}第{k}号物业公司" for k in range(n)]


def sheet(company_names, extra=None):
    rows = [["客户名称", "客户分级"]] + [[name, "重要"] for name in company_names]
    return xlsx(rows + (extra or []))


def imported(tenant, prefix="后台导入"):
    return count(tenant, "crm_customer", f"customer_name LIKE '{prefix}%'")


def import_row(tenant, import_id):
    engine = tenant.engine()
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT status, total_rows, checked_rows, written_rows, created, skipped, "
                                        "file_data IS NULL AS file_gone FROM crm_import WHERE id = :i"),
                                {"i": import_id}).mappings().one()
    finally:
        engine.dispose()


def creators(tenant, prefix="后台导入"):
    """Who the change history says created each imported customer: {user_id: customers}."""
    engine = tenant.engine()
    try:
        with engine.connect() as conn:
            return dict(conn.execute(sa.text(
                "SELECT l.user_id, COUNT(*) FROM crm_change_log l JOIN crm_customer c ON c.id = l.entity_id "
                "WHERE l.entity_type = 'customer' AND l.action = 'create' AND c.customer_name LIKE :p "
                "GROUP BY l.user_id"), {"p": f"{prefix}%"}).all())
    finally:
        engine.dispose()


def set_import(tenant, import_id, **values):
    engine = tenant.engine()
    try:
        with engine.begin() as conn:
            sets = ", ".join(f"{name} = :{name}" for name in values)
            conn.execute(sa.text(f"UPDATE crm_import SET {sets} WHERE id = :i"), {"i": import_id, **values})
    finally:
        engine.dispose()


# ---------------------------------------------------------------------- inline (no Redis: the embedded default)


def test_a_large_file_is_imported_by_a_job_and_its_progress_and_outcome_are_kept(company, small_batches):
    mgr = company.api("mgr")
    batch = names(7)
    resp = send(mgr, sheet(batch, [[batch[2], "普通"]]))  # the last row repeats the third: skipped
    assert resp.status_code == 202, resp.json
    body = resp.json
    assert body["status"] == "done" and body["rows"] == 8 and body["progress"] == 100  # inline: done already
    assert body["created"] == 7 and body["skipped"] == 1 and body["written_rows"] == 8 and body["checked_rows"] == 8
    [skipped] = body["result"]["skipped_rows"]
    assert skipped["row"] == 9 and skipped["duplicate_of_row"] == 4  # a repeat of the file's row 4, batches apart
    assert imported(company.tenant) == 7
    assert import_row(company.tenant, int(body["id"]))["file_gone"] == 1  # the customers' data is not kept
    again = mgr.get(f"/imports/{body['id']}")
    assert again.status_code == 200 and again.json == body
    assert [i["id"] for i in mgr.get("/imports").json["items"]] == [body["id"]]
    # the records were made as the create form makes them: found by the list's search, owned by the importer
    found = mgr.get(f"/customers?q={batch[5]}").json["items"]
    assert [c["customer_name"] for c in found] == [batch[5]] and found[0]["owner"]["name"] == "王经理"


def test_any_invalid_row_in_any_chunk_and_nothing_is_written(company, small_batches):
    mgr = company.api("mgr")
    batch = names(6)
    resp = send(mgr, sheet(batch[:5], [[batch[5], "顶级"]]))  # row 7, in the third chunk: no such level
    assert resp.status_code == 202 and resp.json["status"] == "invalid", resp.json
    assert resp.json["created"] == 0 and resp.json["written_rows"] == 0 and resp.json["result"]["invalid"] == 1
    [entry] = resp.json["result"]["invalid_rows"]
    assert entry["row"] == 7 and set(entry["fields"]) == {"level"}
    assert imported(company.tenant) == 0  # the first chunks were checked and rolled back, not kept


def test_with_duplicates_as_errors_a_name_repeated_batches_apart_writes_nothing(company, small_batches):
    """查重 compares names as the create service does (有限公司, spaces and full width left out): a repeat of an
    earlier batch's row is found while checking, though that batch was rolled back."""
    batch = names(6)
    again = batch[0].replace("有限公司", "") if "有限公司" in batch[0] else batch[0] + "有限公司"
    resp = send(company.api("mgr"), sheet(batch, [[again, "重要"]]), on_duplicate="error")
    assert resp.status_code == 202 and resp.json["status"] == "invalid", resp.json
    [entry] = resp.json["result"]["invalid_rows"]
    assert entry["row"] == 8 and entry["duplicate_of_row"] == 2
    assert imported(company.tenant) == 0


def test_a_dry_run_in_the_background_checks_every_row_and_writes_nothing(company, small_batches, app):
    resp = send(company.api("mgr"), sheet(names(5)), dry_run="true")
    assert resp.status_code == 202 and resp.json["status"] == "done" and resp.json["dry_run"] is True, resp.json
    assert resp.json["created"] == 5 and resp.json["written_rows"] == 0
    assert imported(company.tenant) == 0
    listed = page_client(app, company.tenant, "mgr").get(f"/t/{company.tenant.code}/customers/import").text
    assert "（仅校验）" in listed and "可导入 5 条" in listed
    # in English the note's brackets are English ones (it read "Finished （Only checked）")
    listed = page_client(app, company.tenant, "mgr").get(f"/t/{company.tenant.code}/customers/import?lang=en").text
    assert "(Only checked)" in listed and "（" not in listed


def test_a_job_that_stops_halfway_resumes_after_its_last_chunk_and_creates_nothing_twice(company, small_batches,
                                                                                         monkeypatch):
    mgr = company.api("mgr")
    batch = names(7)
    real_add, calls = importing.RowImporter.add, {"writing": 0}

    def failing_add(self, rows, outcome):
        if not outcome.dry_run:  # the writing pass: its second chunk meets a database gone away
            calls["writing"] += 1
            if calls["writing"] == 2:
                raise sa.exc.OperationalError("INSERT", {}, Exception("server has gone away"))
        return real_add(self, rows, outcome)

    monkeypatch.setattr(importing.RowImporter, "add", failing_add)
    resp = send(mgr, sheet(batch))
    assert resp.status_code == 202 and resp.json["status"] == "failed", resp.json
    assert resp.json["written_rows"] == 2 and resp.json["created"] == 2 and "继续" in resp.json["error"]
    assert imported(company.tenant) == 2  # the first chunk was committed with its progress
    assert import_row(company.tenant, int(resp.json["id"]))["file_gone"] == 0  # kept to go on with

    monkeypatch.setattr(importing.RowImporter, "add", real_add)
    resumed = mgr.post(f"/imports/{resp.json['id']}/resume")
    assert resumed.status_code == 202 and resumed.json["status"] == "done", resumed.json
    assert resumed.json["created"] == 7 and resumed.json["skipped"] == 0 and resumed.json["written_rows"] == 7
    assert imported(company.tenant) == 7  # each row once
    finished = mgr.post(f"/imports/{resp.json['id']}/resume")
    assert finished.status_code == 409 and finished.json["error"]["code"] == "import_finished"


def test_a_job_that_stopped_while_checking_checks_again_from_the_start(company, small_batches, monkeypatch):
    mgr = company.api("mgr")
    real_add, calls = importing.RowImporter.add, {"n": 0}

    def failing_add(self, rows, outcome):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker lost")
        return real_add(self, rows, outcome)

    monkeypatch.setattr(importing.RowImporter, "add", failing_add)
    resp = send(mgr, sheet(names(5)))
    assert resp.json["status"] == "failed" and resp.json["written_rows"] == 0 and imported(company.tenant) == 0
    monkeypatch.setattr(importing.RowImporter, "add", real_add)
    resumed = mgr.post(f"/imports/{resp.json['id']}/resume")
    assert resumed.json["status"] == "done" and resumed.json["created"] == 5 and imported(company.tenant) == 5


def test_only_the_person_who_sent_the_file_sees_its_import(company, small_batches, app, tenants):
    resp = send(company.api("mgr"), sheet(names(4)))
    import_id = resp.json["id"]
    admin = company.api()  # even the administrator: the import's rows are in the lists, the file is the sender's
    assert admin.get(f"/imports/{import_id}").status_code == 404
    assert admin.post(f"/imports/{import_id}/resume").status_code == 404
    assert admin.get("/imports").json["items"] == []
    other = page_client(app, tenants[1])
    assert other.get(f"/t/{tenants[1].code}/imports/{import_id}").status_code == 404
    for bad in ("0", "99999999999999999999", "abc"):
        assert company.api("mgr").get(f"/imports/{bad}").status_code == 404


def test_one_import_of_a_company_at_a_time_and_a_stalled_one_can_be_resumed(company, small_batches, app):
    mgr = company.api("mgr")
    first = send(mgr, sheet(names(4)))
    import_id = first.json["id"]
    set_import(company.tenant, int(import_id), status="importing", updated_at=utcnow())  # as if a worker had it
    for data in (sheet(names(5)), sheet(names(1))):  # background and within the request alike
        busy = company.api().post("/customers/import", json=None, content_type="multipart/form-data",
                                  data={"file": (io.BytesIO(data), "mine.xlsx")})
        assert busy.status_code == 429 and busy.json["error"]["code"] == "import_busy", busy.json
        assert "王经理" in busy.json["error"]["message"] and "customers.xlsx" in busy.json["error"]["message"]
    running = mgr.post(f"/imports/{import_id}/resume")
    assert running.status_code == 409 and running.json["error"]["code"] == "import_running"
    # its worker died: no progress for longer than CRM_IMPORT_STALE_SECONDS, and others may import again
    set_import(company.tenant, int(import_id), updated_at=utcnow() - timedelta(
        seconds=app.config["CRM_IMPORT_STALE_SECONDS"] + 5))
    assert send(mgr, sheet(names(1))).status_code == 200


def test_an_importer_who_lost_the_permission_before_the_job_ran_imports_nothing(company, small_batches, app,
                                                                                  crm_redis, crm_worker):
    mgr = company.api("mgr")
    resp = send(mgr, sheet(names(4)))
    assert resp.status_code == 202 and resp.json["status"] == "queued"
    set_user_roles(company.tenant, company.ids["mgr"], "sales")
    result = crm_worker()
    assert result.returncode == 0, result.stderr[-2000:]
    row = import_row(company.tenant, int(resp.json["id"]))
    assert row["status"] == "failed" and imported(company.tenant) == 0


def set_user_roles(tenant, user_id, code):
    engine = tenant.engine()
    try:
        with engine.begin() as conn:
            role = conn.execute(sa.text("SELECT id FROM sys_role WHERE code = :c"), {"c": code}).scalar()
            conn.execute(sa.text("DELETE FROM sys_user_role WHERE user_id = :u"), {"u": user_id})
            conn.execute(sa.text("INSERT INTO sys_user_role (user_id, role_id) VALUES (:u, :r)"), {"u": user_id, "r": role})
    finally:
        engine.dispose()


# ---------------------------------------------------------------------- a real worker on real Redis


def test_a_real_worker_imports_the_file_on_its_own_tenant_in_chunks(company, small_batches, app, tenants,
                                                                    crm_redis, crm_worker):
    mgr = company.api("mgr")
    batch = names(9)
    resp = send(mgr, sheet(batch))
    assert resp.status_code == 202, resp.json
    assert resp.json["status"] == "queued" and resp.json["progress"] == 0 and resp.json["rows"] == 9
    assert imported(company.tenant) == 0  # nothing yet: the worker has not run
    [queued] = crm_redis.keys("rq:job:crm-import-*")
    job = Job.fetch(queued.decode().removeprefix("rq:job:"), connection=crm_redis)
    assert job.meta == {"tenant_id": company.tenant.id}  # the job carries its tenant
    result = crm_worker(CRM_IMPORT_CHUNK_ROWS=2)
    assert result.returncode == 0, result.stderr[-2000:]
    assert job.get_status(refresh=True) == JobStatus.FINISHED, job.latest_result().exc_string
    done = mgr.get(f"/imports/{resp.json['id']}").json
    assert done["status"] == "done" and done["created"] == 9 and done["written_rows"] == 9
    assert imported(company.tenant) == 9 and imported(tenants[1]) == 0  # on its own tenant only
    assert creators(company.tenant) == {company.ids["mgr"]: 9}  # the history names who imported, not 系统


def test_a_queue_that_does_not_take_the_job_is_a_503_and_the_import_says_so(company, small_batches, app,
                                                                             monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    monkeypatch.setitem(app.config, "REDIS_SOCKET_TIMEOUT", 1)
    mgr = company.api("mgr")
    resp = send(mgr, sheet(names(4)))
    assert resp.status_code == 503 and resp.json["error"]["code"] == "queue_unavailable", resp.json
    [item] = mgr.get("/imports").json["items"]
    assert item["status"] == "failed" and imported(company.tenant) == 0


# ---------------------------------------------------------------------- the pages


def test_the_page_sends_a_large_file_to_its_own_page_which_shows_the_outcome(company, small_batches, app):
    from tests.conftest import csrf_from

    code = company.tenant.code
    browser = page_client(app, company.tenant, "mgr")
    page = browser.get(f"/t/{code}/customers/import")
    assert "在后台导入" in page.text
    batch = names(4)
    sent = browser.post(f"/t/{code}/customers/import", data={
        "csrf_token": csrf_from(page.text), "on_duplicate": "skip",
        "file": (io.BytesIO(sheet(batch, [[batch[0], "重要"]])), "大客户表.xlsx")},
        content_type="multipart/form-data")
    assert sent.status_code == 302 and "/imports/" in sent.headers["Location"]
    shown = browser.get(sent.headers["Location"])
    assert shown.status_code == 200 and "大客户表.xlsx" in shown.text and "已完成" in shown.text
    assert "http-equiv=\"refresh\"" not in shown.text  # finished: no more refreshing
    assert "已导入 4 条" in shown.text and "第 6 行" in shown.text  # the skipped repeat, by its row
    back = browser.get(f"/t/{code}/customers/import")
    assert "大客户表.xlsx" in back.text  # listed among the recent imports


def test_a_running_import_s_page_refreshes_itself_and_a_stalled_one_offers_to_resume(company, small_batches, app,
                                                                                    crm_redis, crm_worker):
    code = company.tenant.code
    resp = send(company.api("mgr"), sheet(names(4)))
    browser = page_client(app, company.tenant, "mgr")
    page = browser.get(f"/t/{code}/imports/{resp.json['id']}")
    assert "http-equiv=\"refresh\"" in page.text and "等待开始" in page.text and "继续导入" not in page.text
    set_import(company.tenant, int(resp.json["id"]), updated_at=utcnow() - timedelta(hours=1))
    page = browser.get(f"/t/{code}/imports/{resp.json['id']}")
    assert "http-equiv=\"refresh\"" not in page.text and "继续导入" in page.text
    from tests.conftest import csrf_from

    resumed = browser.post(f"/t/{code}/imports/{resp.json['id']}/resume", data={"csrf_token": csrf_from(page.text)})
    assert resumed.status_code == 302
    assert crm_worker().returncode == 0
    assert "已完成" in browser.get(f"/t/{code}/imports/{resp.json['id']}").text and imported(company.tenant) == 4


def test_the_import_endpoint_documents_its_background_answer(company):
    doc = company.api().get("/openapi.json").json
    responses = doc["paths"]["/customers/import"]["post"]["responses"]
    assert {"200", "202", "503"} <= set(responses)
    assert "/imports/{import_id}" in doc["paths"] and "/imports/{import_id}/resume" in doc["paths"]


def test_import_jobs_refuse_a_stale_job_id_for_a_finished_import(company, small_batches, app):
    """rq may run a job twice: the second run of a finished import changes nothing."""
    resp = send(company.api("mgr"), sheet(names(4)))
    from tenant_runtime.core import jobs

    with app.app_context():
        again = jobs.run("tenant_runtime.io.import_jobs:run_import", company.tenant.id, int(resp.json["id"]))
    assert again == {"status": "done"} and imported(company.tenant) == 4


def descendants(pid):
    """The ids of ``pid``'s child processes and theirs (from /proc)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def test_a_worker_killed_halfway_leaves_committed_batches_and_the_resumed_job_creates_each_row_once(
        company, app, crm_redis, crm_worker, monkeypatch):
    """A real worker process killed (SIGKILL, its work-horse included) while it writes: the batches it committed
    stay, the import says it is importing until it is stale, and resumed on another worker it finishes without
    a row created twice."""
    import contextlib
    import signal
    import subprocess
    import sys
    import time

    from tests.tenant_runtime.crm_rq import REDIS_URL, ROOT, worker_env

    monkeypatch.setitem(app.config, "CRM_IMPORT_INLINE_ROWS", 3)
    # the job's time limit (set when it is queued): a job that hangs is ended by it, and the burst worker then
    # exits, which ends the wait below
    monkeypatch.setitem(app.config, "CRM_IMPORT_JOB_TIMEOUT", 120)
    mgr = company.api("mgr")
    batch = names(300)
    resp = send(mgr, sheet(batch))
    assert resp.status_code == 202 and resp.json["status"] == "queued", resp.json
    import_id = int(resp.json["id"])
    worker = subprocess.Popen(
        [sys.executable, "-m", "rq.cli", "worker", "--burst", "--worker-class",
         "datasource_registry.worker.TenantWorker", "--url", REDIS_URL, "tenants", "crm"],
        cwd=ROOT, env=worker_env(app, CRM_IMPORT_CHUNK_ROWS=5),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while import_row(company.tenant, import_id)["written_rows"] < 5:  # the event: a batch committed
            assert worker.poll() is None, "the worker finished (or its job was timed out) before it was killed"
            time.sleep(0.05)
        for pid in [*descendants(worker.pid), worker.pid]:  # rq's work-horse runs in a process group of its own
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    finally:
        worker.wait(timeout=30)
    killed = import_row(company.tenant, import_id)
    assert killed["status"] == "importing" and 5 <= killed["written_rows"] < 300
    assert imported(company.tenant) == killed["created"] == killed["written_rows"]  # batches whole, with progress
    assert mgr.post(f"/imports/{import_id}/resume").json["error"]["code"] == "import_running"  # not stale yet
    set_import(company.tenant, import_id, updated_at=utcnow() - timedelta(
        seconds=app.config["CRM_IMPORT_STALE_SECONDS"] + 5))
    assert mgr.post(f"/imports/{import_id}/resume").status_code == 202
    assert crm_worker(CRM_IMPORT_CHUNK_ROWS=50).returncode == 0
    done = mgr.get(f"/imports/{import_id}").json
    assert done["status"] == "done" and done["created"] == 300 and done["skipped"] == 0, done
    assert imported(company.tenant) == 300


def test_a_stopped_import_not_resumed_within_the_kept_days_loses_its_file_and_keeps_what_it_wrote(
        company, small_batches, app, monkeypatch):
    from tenant_runtime.core import jobs
    from tenant_runtime.core.tasks import TASKS

    mgr = company.api("mgr")
    real_add, calls = importing.RowImporter.add, {"writing": 0}

    def failing_add(self, rows, outcome):
        if not outcome.dry_run:
            calls["writing"] += 1
            if calls["writing"] == 2:
                raise RuntimeError("database gone")
        return real_add(self, rows, outcome)

    monkeypatch.setattr(importing.RowImporter, "add", failing_add)
    stopped = int(send(mgr, sheet(names(5))).json["id"])
    monkeypatch.setattr(importing.RowImporter, "add", real_add)
    finished = int(send(mgr, sheet(names(4))).json["id"])
    days = app.config["CRM_IMPORT_KEEP_DAYS"]
    set_import(company.tenant, stopped, updated_at=utcnow() - timedelta(days=days, minutes=1))

    def run_task():
        with app.app_context():
            tenant = jobs.bind(company.tenant.id)
            try:
                return TASKS["imports.expire"].run(tenant.session, utcnow())
            finally:
                tenant.close()

    assert run_task() == {"expired": 1} and run_task() == {"expired": 0}  # once
    gone = mgr.get(f"/imports/{stopped}").json
    assert gone["status"] == "failed" and "重新" in gone["error"] and import_row(company.tenant, stopped)["file_gone"]
    assert "stopped_in" not in gone["result"]
    page = page_client(app, company.tenant, "mgr").get(f"/t/{company.tenant.code}/imports/{stopped}").text
    assert "继续导入" not in page and "导入另一个文件" in page  # nothing left to resume: send it again
    assert mgr.post(f"/imports/{stopped}/resume").json["error"]["code"] == "import_finished"
    assert imported(company.tenant) == 2 + 4  # the stopped import's first batch and the other import stay
    assert mgr.get(f"/imports/{finished}").json["status"] == "done"


def test_two_clicks_on_resume_at_once_start_one_job(company, small_batches, app, crm_redis, crm_worker):
    from tests.tenant_runtime.crm import at_once

    resp = send(company.api("mgr"), sheet(names(4)))
    import_id = int(resp.json["id"])
    set_import(company.tenant, import_id, status="failed")
    clients = [company.api("mgr") for _ in range(2)]
    answers = at_once(2, lambda i: clients[i].post(f"/imports/{import_id}/resume"))
    assert sorted(a.status_code for a in answers) == [202, 409], [a.json for a in answers]
    assert len(crm_redis.keys("rq:job:crm-import-*")) == 2  # the first enqueue and one resume
    assert crm_worker().returncode == 0
    done = company.api("mgr").get(f"/imports/{import_id}").json
    assert done["status"] == "done" and done["created"] == 4 and imported(company.tenant) == 4


# ---------------------------------------------------------------------- a checked file imported without sending it again


def test_a_checked_file_is_imported_without_sending_it_again_and_checked_again(company, small_batches):
    from tests.tenant_runtime.crm import customer_body

    mgr = company.api("mgr")
    batch = names(5)
    check = send(mgr, sheet(batch), dry_run="true", on_duplicate="skip")
    check_id = check.json["id"]
    assert check.json["status"] == "done" and check.json["created"] == 5 and check.json["imported_as"] is None
    assert not import_row(company.tenant, int(check_id))["file_gone"]  # kept for 导入
    # between the check and the import, a colleague enters one of the file's companies by hand
    assert company.api().post("/customers", json=customer_body(customer_name=batch[3])).status_code == 201
    resp = mgr.post(f"/imports/{check_id}/confirm")
    assert resp.status_code == 202, resp.json
    done = resp.json
    assert done["id"] != check_id and done["dry_run"] is False and done["status"] == "done", done
    assert done["file_name"] == "customers.xlsx" and done["rows"] == 5
    assert done["created"] == 4 and done["skipped"] == 1  # checked again: the one entered since is skipped
    assert imported(company.tenant) == 5  # the four and the colleague's
    made_by = creators(company.tenant)  # the history names who imported (not 系统), and the colleague
    assert made_by[company.ids["mgr"]] == 4 and None not in made_by and sum(made_by.values()) == 5, made_by
    after = mgr.get(f"/imports/{check_id}").json
    assert after["imported_as"] == done["id"] and after["dry_run"] is True and after["status"] == "done"
    assert import_row(company.tenant, int(check_id))["file_gone"] and import_row(company.tenant, int(done["id"]))[
        "file_gone"]  # the file went with the import that used it, and that import dropped it when done
    again = mgr.post(f"/imports/{check_id}/confirm")
    assert again.status_code == 409 and again.json["error"]["code"] == "import_confirmed"
    assert imported(company.tenant) == 5
    not_a_check = mgr.post(f"/imports/{done['id']}/confirm")
    assert not_a_check.status_code == 409 and not_a_check.json["error"]["code"] == "import_not_checked"
    assert company.api().post(f"/imports/{check_id}/confirm").status_code == 404  # the sender's alone


def test_an_invalid_check_cannot_be_imported(company, small_batches):
    mgr = company.api("mgr")
    check = send(mgr, sheet(names(4), [["", "重要"]]), dry_run="true")
    assert check.json["status"] == "invalid" and import_row(company.tenant, int(check.json["id"]))["file_gone"]
    resp = mgr.post(f"/imports/{check.json['id']}/confirm")
    assert resp.status_code == 409 and resp.json["error"]["code"] == "import_not_checked"
    assert imported(company.tenant) == 0


def test_the_page_of_a_check_imports_it_with_one_click(company, small_batches, app):
    from tests.conftest import csrf_from

    code = company.tenant.code
    check = send(company.api("mgr"), sheet(names(4)), dry_run="true")
    browser = page_client(app, company.tenant, "mgr")
    page = browser.get(f"/t/{code}/imports/{check.json['id']}")
    assert "导入这 4 条记录" in page.text and "无需重新上传" in page.text
    sent = browser.post(f"/t/{code}/imports/{check.json['id']}/confirm", data={"csrf_token": csrf_from(page.text)})
    assert sent.status_code == 302 and not sent.headers["Location"].endswith(f"/imports/{check.json['id']}")
    shown = browser.get(sent.headers["Location"])
    assert "已完成" in shown.text and "已导入 4 条" in shown.text and imported(company.tenant) == 4
    page = browser.get(f"/t/{code}/imports/{check.json['id']}")
    assert "导入这 4 条记录" not in page.text and "查看该导入" in page.text
    twice = browser.post(f"/t/{code}/imports/{check.json['id']}/confirm", data={"csrf_token": csrf_from(page.text)},
                         follow_redirects=True)
    assert "该文件已经导入过了" in twice.text and imported(company.tenant) == 4


def test_a_check_not_imported_within_the_kept_days_loses_its_file_and_stays_a_check(company, small_batches, app):
    from tenant_runtime.core import jobs
    from tenant_runtime.core.tasks import TASKS

    mgr = company.api("mgr")
    check_id = int(send(mgr, sheet(names(4)), dry_run="true").json["id"])
    days = app.config["CRM_IMPORT_KEEP_DAYS"]
    set_import(company.tenant, check_id, updated_at=utcnow() - timedelta(days=days, minutes=1))
    with app.app_context():
        tenant = jobs.bind(company.tenant.id)
        try:
            assert TASKS["imports.expire"].run(tenant.session, utcnow()) == {"expired": 1}
        finally:
            tenant.close()
    kept = mgr.get(f"/imports/{check_id}").json
    assert kept["status"] == "done" and kept["created"] == 4 and kept["error"] is None
    assert import_row(company.tenant, check_id)["file_gone"]
    resp = mgr.post(f"/imports/{check_id}/confirm")
    assert resp.status_code == 409 and resp.json["error"]["code"] == "import_file_gone"
    page = page_client(app, company.tenant, "mgr").get(f"/t/{company.tenant.code}/imports/{check_id}").text
    assert "导入这 4 条记录" not in page and f"{days} 天后删除" in page
    assert imported(company.tenant) == 0


def test_two_clicks_on_import_at_once_make_one_import(company, small_batches, app, crm_redis, crm_worker):
    from tests.tenant_runtime.crm import at_once

    check = send(company.api("mgr"), sheet(names(4)), dry_run="true")
    assert check.status_code == 202 and crm_worker().returncode == 0
    check_id = check.json["id"]
    assert company.api("mgr").get(f"/imports/{check_id}").json["status"] == "done"
    clients = [company.api("mgr") for _ in range(2)]
    answers = at_once(2, lambda i: clients[i].post(f"/imports/{check_id}/confirm"))
    assert sorted(a.status_code for a in answers) == [202, 409], [a.json for a in answers]
    assert count(company.tenant, "crm_import", "dry_run = 0") == 1
    assert crm_worker().returncode == 0
    assert imported(company.tenant) == 4


def test_the_imports_list_pages_through_every_import_newest_first(company, small_batches):
    mgr = company.api("mgr")
    sent = [send(mgr, sheet(names(4)), dry_run="true").json["id"] for _ in range(3)]
    first = mgr.get("/imports?limit=2").json
    assert [i["id"] for i in first["items"]] == sent[::-1][:2] and first["next_cursor"]
    rest = mgr.get(f"/imports?limit=2&cursor={first['next_cursor']}").json
    assert [i["id"] for i in rest["items"]] == [sent[0]] and rest["next_cursor"] is None
    for bad in ("limit=0", "cursor=%%%", "limit=abc"):
        resp = mgr.get(f"/imports?{bad}")
        assert resp.status_code == 422 and resp.json["error"]["code"] == "invalid_fields", (bad, resp.json)


def test_a_small_file_checked_within_the_request_is_kept_and_imported_without_sending_it_again(company,
                                                                                                small_batches):
    mgr = company.api("mgr")
    batch = names(3)
    check = send(mgr, sheet(batch), dry_run="true")  # 3 rows: checked within the request
    assert check.status_code == 200 and check.json["dry_run"] is True and check.json["created"] == 3, check.json
    check_id = check.json["import_id"]
    kept = mgr.get(f"/imports/{check_id}").json
    assert kept["status"] == "done" and kept["dry_run"] is True and kept["created"] == 3 and kept["rows"] == 3
    assert imported(company.tenant) == 0
    done = mgr.post(f"/imports/{check_id}/confirm")
    assert done.status_code == 202 and done.json["status"] == "done" and done.json["created"] == 3, done.json
    assert imported(company.tenant) == 3
    # a check with nothing to import (every row already in the CRM) keeps no file
    nothing = send(mgr, sheet(batch), dry_run="true")
    assert nothing.status_code == 200 and nothing.json["created"] == 0 and nothing.json["import_id"] is None
    assert len(mgr.get("/imports").json["items"]) == 2  # the check and its import


def test_a_queue_that_does_not_take_the_checked_file_s_job_leaves_an_import_to_resume(company, small_batches, app,
                                                                                      monkeypatch):
    mgr = company.api("mgr")
    check_id = send(mgr, sheet(names(4)), dry_run="true").json["id"]
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    monkeypatch.setitem(app.config, "REDIS_SOCKET_TIMEOUT", 1)
    resp = mgr.post(f"/imports/{check_id}/confirm")
    assert resp.status_code == 503 and resp.json["error"]["code"] == "queue_unavailable", resp.json
    import_id = mgr.get(f"/imports/{check_id}").json["imported_as"]
    stopped = mgr.get(f"/imports/{import_id}").json
    assert stopped["status"] == "failed" and not import_row(company.tenant, int(import_id))["file_gone"]
    assert imported(company.tenant) == 0
    monkeypatch.setitem(app.config, "REDIS_URL", "")  # the queue is back (inline here): the file was not lost
    resumed = mgr.post(f"/imports/{import_id}/resume")
    assert resumed.status_code == 202 and resumed.json["status"] == "done" and resumed.json["created"] == 4
    assert imported(company.tenant) == 4
