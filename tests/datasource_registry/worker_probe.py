"""A job for the worker tests: what a work horse finds when its job starts."""

import os


def app_at_start():
    from datasource_registry import jobs

    return {"prebuilt": jobs._APP is not None, "app": id(jobs._APP), "horse": os.getpid(), "worker": os.getppid()}
