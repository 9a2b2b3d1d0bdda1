"""The rq worker for tenant jobs: ``rq worker -w datasource_registry.worker.TenantWorker --url "$REDIS_URL" tenants``.

rq's plain worker forks a work horse per job and the horse imported and built the Flask app for the job,
about a second of every job. ``TenantWorker`` builds the app once, in the worker process, before it forks:
each horse inherits it (copy-on-write) and only runs its job. Per-process state is not inherited: the pool
registry resets itself in a forked child, and the horse drops the control database's pooled connections
(without closing the parent's sockets) before its job opens its own.
"""

from rq.worker import Worker

from . import jobs


class TenantWorker(Worker):
    def work(self, *args, **kwargs):
        jobs._worker_app()  # built here, before the first fork
        return super().work(*args, **kwargs)

    def main_work_horse(self, job, queue):
        from extensions import db

        with jobs._worker_app().app_context():
            for engine in db.engines.values():
                engine.dispose(close=False)  # connections the worker process may hold are not the horse's
        return super().main_work_horse(job, queue)
