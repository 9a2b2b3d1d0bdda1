from flask import g, request
from flask_babel import gettext as _

from common.apidoc import declared_body, endpoint
from common.db import commit, get_or_404
from common.errors import ApiError
from datasource_registry import services
from datasource_registry.models import TenantJob
from extensions import db
from platform_admin.common.api import api
from platform_admin.enterprises.models import Enterprise

from . import start_provision
from .forms import DatasourceForm, ForceDeleteForm, ImplementationStatusForm
from .schemas import (
    ConnectionTestSchema,
    DatasourceSchema,
    JobSchema,
    JobStartedSchema,
    PoolStatsSchema,
    ProbeSchema,
)


def _datasource(enterprise):
    if enterprise.datasource is None:
        raise ApiError(404, "datasource_not_configured", _("No datasource is configured for this enterprise."))
    return enterprise.datasource


@api.put("/enterprises/<int:ent_id>/datasource")
@endpoint("Configure the datasource, once", status=201, body=DatasourceForm, response=DatasourceSchema, errors=(409,),
          description="Any second write: 409 datasource_immutable. The password is stored encrypted and never "
                      "returned.")
def datasource_configure(ent_id):
    enterprise = get_or_404(Enterprise, ent_id)
    if enterprise.datasource is not None:
        raise ApiError(409, "datasource_immutable", _("The datasource is already configured and cannot be changed."))
    form = declared_body(base={"type": "mysql"})
    ds = services.configure(enterprise, form.datasource_data(), by=g.staff)
    commit()
    return ds


@api.post("/enterprises/<int:ent_id>/datasource/test")
@endpoint("Try the datasource values against the server before saving them", body=DatasourceForm,
          response=ConnectionTestSchema, errors=(409, 503),
          description="The PUT body, validated the same way; nothing is saved. Failures: unreachable, access_denied "
                      "(503), host_not_allowed (409).")
def datasource_test(ent_id):
    enterprise = get_or_404(Enterprise, ent_id)
    if enterprise.datasource is not None:
        raise ApiError(409, "datasource_immutable", _("The datasource is already configured and cannot be changed."))
    form = declared_body(base={"type": "mysql"})
    return services.try_connection(enterprise, form.datasource_data())


@api.get("/enterprises/<int:ent_id>/datasource")
@endpoint("The datasource, never its password", response=DatasourceSchema,
          description="None yet: 404 datasource_not_configured.")
def datasource_get(ent_id):
    return _datasource(get_or_404(Enterprise, ent_id))


@api.post("/enterprises/<int:ent_id>/datasource/implementation-status")
@endpoint("Move the implementation status: not_implemented -> implementing -> live", body=ImplementationStatusForm,
          response=DatasourceSchema, errors=(409, 503),
          description="Each step after a live check of the database; anything else: 409 illegal_transition.")
def datasource_status(ent_id):
    ds = _datasource(get_or_404(Enterprise, ent_id))
    status = declared_body().status.data
    services.advance(ds, status, by=g.staff)
    commit()
    return ds


@api.delete("/enterprises/<int:ent_id>/datasource")
@endpoint("Delete the datasource", status=204, errors=(409, 503), body=ForceDeleteForm, optional_body=True,
          description="Only while not_implemented and while its database holds no business rows. One whose database "
                      "was never created goes without a connection; one that cannot be reached can be deleted by an "
                      "administrator with {\"force\": true, \"reason\": \"...\"} (audited).")
def datasource_delete(ent_id):
    ds = _datasource(get_or_404(Enterprise, ent_id))
    reason = None
    if request.get_data():  # an administrator's forced deletion: {"force": true, "reason": "..."}
        reason = declared_body().reason.data
    services.delete(ds, by=g.staff, force_reason=reason)
    commit()


@api.post("/enterprises/<int:ent_id>/datasource/provision")
@endpoint("Create the database if needed and migrate it", status=202, response=JobStartedSchema,
          description="Idempotent; the first administrator's login goes to the enterprise contact.")
def datasource_provision(ent_id):
    ds = _datasource(get_or_404(Enterprise, ent_id))
    return {"job_id": start_provision(ds).id}


@api.post("/enterprises/<int:ent_id>/datasource/check")
@endpoint("Connect once and report latency, server version and schema version", response=ProbeSchema,
          errors=(503,))
def datasource_check(ent_id):
    ds = _datasource(get_or_404(Enterprise, ent_id))
    return services.probe(ds)


@api.get("/jobs/<job_id>")
@endpoint("A tenant job: status, progress, result or error", response=JobSchema)
def job_get(job_id):
    row = db.session.get(TenantJob, job_id)
    if row is None:
        raise ApiError(404, "not_found", _("There is no such job."))
    return row


@api.get("/registry")
@endpoint("This process's tenant connection pools against its budget", response=PoolStatsSchema)
def registry_stats():
    from datasource_registry.registry import stats

    return stats()


