from flask import g, jsonify, request

from common.db import commit, get_or_404
from common.errors import ApiError
from common.forms import form_from_json, json_body, validate_or_422
from common.timeutil import isoformat
from datasource_registry import jobs, services
from datasource_registry.models import TenantJob
from extensions import db
from platform_admin.common.api import api, sid
from platform_admin.enterprises.models import Enterprise

from .forms import DatasourceForm, ForceDeleteForm


def datasource_json(ds):
    """Everything but the password, which never leaves the server in any form."""
    return {
        "id": sid(ds.id), "enterprise_id": sid(ds.enterprise_id), "name": ds.name, "database": ds.database,
        "type": ds.type, "host": ds.host, "port": ds.port, "connection": ds.connection, "username": ds.username,
        "max_connections": ds.max_connections, "min_connections": ds.min_connections, "remark": ds.remark,
        "implementation_status": ds.implementation_status,
        "implementing_at": isoformat(ds.implementing_at), "implementing_by": ds.implementing_by.username if ds.implementing_by else None,
        "live_at": isoformat(ds.live_at), "live_by": ds.live_by.username if ds.live_by else None,
        "created_at": isoformat(ds.created_at), "created_by": ds.created_by.username if ds.created_by else None,
    }


def _datasource(enterprise):
    if enterprise.datasource is None:
        raise ApiError(404, "datasource_not_configured", "no datasource configured for this enterprise")
    return enterprise.datasource


@api.put("/enterprises/<int:ent_id>/datasource")
def datasource_configure(ent_id):
    enterprise = get_or_404(Enterprise, ent_id)
    if enterprise.datasource is not None:
        raise ApiError(409, "datasource_immutable", "the datasource is already configured and cannot be changed")
    form = validate_or_422(form_from_json(DatasourceForm, base={"type": "mysql"}))
    ds = services.configure(enterprise, form.datasource_data(), by=g.staff)
    commit()
    return jsonify(datasource_json(ds)), 201


@api.post("/enterprises/<int:ent_id>/datasource/test")
def datasource_test(ent_id):
    """The PUT body, validated the same way, tried against the server; nothing is saved."""
    enterprise = get_or_404(Enterprise, ent_id)
    if enterprise.datasource is not None:
        raise ApiError(409, "datasource_immutable", "the datasource is already configured and cannot be changed")
    form = validate_or_422(form_from_json(DatasourceForm, base={"type": "mysql"}))
    return jsonify(services.try_connection(enterprise, form.datasource_data()))


@api.get("/enterprises/<int:ent_id>/datasource")
def datasource_get(ent_id):
    return jsonify(datasource_json(_datasource(get_or_404(Enterprise, ent_id))))


@api.post("/enterprises/<int:ent_id>/datasource/implementation-status")
def datasource_status(ent_id):
    ds = _datasource(get_or_404(Enterprise, ent_id))
    status = json_body().get("status")
    if not isinstance(status, str):
        raise ApiError(422, "invalid_fields", "status is required", {"status": ["required"]})
    services.advance(ds, status, by=g.staff)
    commit()
    return jsonify(datasource_json(ds))


@api.delete("/enterprises/<int:ent_id>/datasource")
def datasource_delete(ent_id):
    ds = _datasource(get_or_404(Enterprise, ent_id))
    reason = None
    if request.get_data() and json_body():  # an administrator's forced deletion: {"force": true, "reason": "..."}
        reason = validate_or_422(form_from_json(ForceDeleteForm)).reason.data
    services.delete(ds, by=g.staff, force_reason=reason)
    commit()
    return "", 204


@api.post("/enterprises/<int:ent_id>/datasource/provision")
def datasource_provision(ent_id):
    ds = _datasource(get_or_404(Enterprise, ent_id))
    row = jobs.enqueue("provision", ds, by=g.staff)
    return jsonify({"job_id": row.id}), 202


@api.post("/enterprises/<int:ent_id>/datasource/check")
def datasource_check(ent_id):
    ds = _datasource(get_or_404(Enterprise, ent_id))
    return jsonify(services.probe(ds))


@api.get("/jobs/<job_id>")
def job_get(job_id):
    row = db.session.get(TenantJob, job_id)
    if row is None:
        raise ApiError(404, "not_found", "no such job")
    return jsonify(jobs.job_json(row))


@api.get("/registry")
def registry_stats():
    from datasource_registry.registry import stats

    return jsonify(stats())


