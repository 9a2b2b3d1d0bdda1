"""Actions on users beyond the generic ones: disable, enable, reset the password (pages and API)."""

from flask import abort, flash, g, redirect, url_for
from flask_babel import gettext as _

from common.apidoc import endpoint

from ..context import current_tenant
from ..models import SysUser
from ..people.permissions import requires
from . import accounts, services
from .resource import handover_started, link_message, users
from .schemas import LinkSentSchema, UserSchema


def _user(user_id):
    user = current_tenant.session.get(SysUser, user_id) if 0 < user_id < 2**63 else None
    if user is None:
        abort(404)
    return user


def register(pages, api):
    def route(blueprint, rule, **options):
        def decorator(view):
            blueprint.add_url_rule(rule, view_func=view, methods=["POST"], **options)
            requires(f"{blueprint.name}.{view.__name__}", "people.manage")
            return view
        return decorator

    def set_enabled(user_id, enabled):
        user = services.set_enabled(_user(user_id), enabled, by=g.tenant_user)
        users.commit()
        return user

    @route(api, "/users/<int:user_id>/disable")
    @endpoint("Disable a user: every session and token of theirs ends at once", response=UserSchema,
              errors=(409,))
    def users_disable_api(user_id):
        return set_enabled(user_id, False)

    @route(api, "/users/<int:user_id>/enable")
    @endpoint("Enable a user again", response=UserSchema)
    def users_enable_api(user_id):
        return set_enabled(user_id, True)

    @route(api, "/users/<int:user_id>/reset-password")
    @endpoint("Reset a user's password: the old one stops working, their sessions and tokens end, and a "
              "single-use link to choose a new one goes to their mobile and e-mail", response=LinkSentSchema)
    def users_reset_password_api(user_id):
        info = accounts.reset_password(_user(user_id))
        users.commit()
        return info

    def page_action(user_id, action):
        from common.errors import ApiError

        try:
            action(user_id)
        except ApiError as exc:
            current_tenant.session.rollback()
            flash(exc.message, "danger")
        return redirect(url_for("tenant.users_detail", record_id=user_id))

    @route(pages, "/users/<int:user_id>/disable")
    def users_disable(user_id):
        def act(uid):
            user = set_enabled(uid, False)
            flash(" ".join([_("Disabled: the user is signed out everywhere."), *handover_started(user)]), "success")
        return page_action(user_id, act)

    @route(pages, "/users/<int:user_id>/enable")
    def users_enable(user_id):
        def act(uid):
            set_enabled(uid, True)
            flash(_("Enabled."), "success")
        return page_action(user_id, act)

    @route(pages, "/users/<int:user_id>/reset-password")
    def users_reset_password(user_id):
        def act(uid):
            info = accounts.reset_password(_user(uid))
            users.commit()
            flash(*link_message(info))
        return page_action(user_id, act)
