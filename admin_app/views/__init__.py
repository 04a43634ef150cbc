"""Views: portal blueprints and the Flask-Admin back office."""
from flask import Flask


def register(app: Flask) -> None:
    """Attach blueprints, the admin, the login loader, security headers and error pages."""
    from . import (
        api,
        api_v1,
        auth,
        entry,
        errors,
        fhir,
        grants_portal,
        health,
        menus,
        page_chrome,
        portal,
        programmes_portal,
        registry,
        security,
        sessions,
        verify,
    )
    from .admin import init_admin
    from .error_summary import init_app as init_error_summary

    security.init_app(app)
    errors.init_app(app)
    auth.init_app(app)
    sessions.init_app(app)
    menus.init_app(app)
    page_chrome.init_app(app)
    init_error_summary(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(fhir.bp)
    app.register_blueprint(api_v1.bp)
    app.register_blueprint(portal.bp)
    app.register_blueprint(verify.bp)
    app.register_blueprint(registry.bp)
    app.register_blueprint(grants_portal.bp)
    app.register_blueprint(programmes_portal.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(entry.bp)
    init_admin(app)
