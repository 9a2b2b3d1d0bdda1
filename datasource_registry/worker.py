"""The rq worker for tenant jobs: ``rq worker -w datasource_registry.worker.TenantWorker --url "$REDIS_URL" tenants``.

rq's plain worker forks a work horse per job and the horse imported and built the Flask app for the job,
about a second of every job. ``TenantWorker`` builds the app once, in the worker process, before it forks:
each horse inherits it (copy-on-write) and only runs its job. Per-process state is not inherited: the pool
registry resets itself in a forked child, and the horse drops the control database's pooled connections
(without closing the parent's sockets) before its job opens its own.
"""

from rq.job import JobStatus
from rq.worker import Worker

from . import jobs


class TenantWorker(Worker):
    """Builds the app once before forking (above), and ends a job's row when rq kills its work horse (a minute
    past the job's time limit, ``rq`` stop or kill-horse commands, the kernel's out-of-memory killer): rq then
    fails the job without running its failure callback, and the row would stay ``running`` for ever."""

    def work(self, *args, **kwargs):
        jobs._worker_app()  # built here, before the first fork
        return super().work(*args, **kwargs)

    def main_work_horse(self, job, queue):
        from extensions import db

        with jobs._worker_app().app_context():
            for engine in db.engines.values():
                engine.dispose(close=False)  # connections the worker process may hold are not the horse's
        return super().main_work_horse(job, queue)

    def handle_job_failure(self, job, queue, started_job_registry=None, exc_string=""):
        super().handle_job_failure(job, queue, started_job_registry=started_job_registry, exc_string=exc_string)
        if self.is_horse or job.func_name != f"{jobs.__name__}.run":
            return  # in the horse, execute() and on_job_failure() record it; the fleet coordinator's run goes stale
        if job.get_status(refresh=False) == JobStatus.STOPPED:
            code, error = "stopped", "stopped: an rq stop-job command ended this job"
        else:
            code, error = "interrupted", "interrupted: the work horse running this job was killed before the job ended"
        jobs._fail_from_worker(job.id, code, error)
