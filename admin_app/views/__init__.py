"""Views: portal blueprints and the Flask-Admin back office."""
from flask import Flask


def register(app: Flask) -> None:
    """Attach blueprints, the admin, the login loader, security headers and error pages."""
    from . import api, auth, errors, fhir, grants_portal, health, menus, portal, registry, security, sessions, verify
    from .admin import init_admin

    security.init_app(app)
    errors.init_app(app)
    auth.init_app(app)
    sessions.init_app(app)
    menus.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(fhir.bp)
    app.register_blueprint(portal.bp)
    app.register_blueprint(verify.bp)
    app.register_blueprint(registry.bp)
    app.register_blueprint(grants_portal.bp)
    app.register_blueprint(health.bp)
    init_admin(app)
