"""The personal centre's two menus, one home for both: the tabs on every portal page and the menu under the
user's name top right (portal and back office). To add an entry (e.g. 登录设备), append a MenuItem to
PERSONAL_NAV and/or USER_MENU; an entry whose endpoint is not registered is left out."""
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app, request, url_for
from flask_babel import get_locale, gettext as _
from flask_login import current_user

from ..i18n import N_
from ..services.scope import current_scope
from ..services.verification import is_verified


@dataclass(frozen=True)
class MenuItem:
    endpoint: str
    label: str  # msgid, translated when shown
    show: Callable[[object], bool] | None = None  # who sees it (None: every signed-in user)
    also_current: tuple[str, ...] = ()  # further endpoints on which this entry is the current one


@dataclass(frozen=True)
class Link:
    url: str
    label: str
    current: bool
    key: str  # the endpoint, for tests and styling


# 个人信息中心 tabs: the health-talent manual's personal centre, plus 添加业务 once the identity is verified.
PERSONAL_NAV: list[MenuItem] = [
    MenuItem("portal.me", N_("Personal centre")),
    MenuItem("portal.account", N_("Account information")),
    MenuItem("portal.profile", N_("Profile")),
    MenuItem("verify.index", N_("Real-name verification")),
    MenuItem("portal.password", N_("Change password")),
    MenuItem("sessions.index", N_("Signed-in devices")),
    MenuItem("grants.bind", N_("Add business"), show=is_verified),
]

# The menu under the user's name: the staff-reporting manual's 修改密码, 修改账户信息, 编辑档案 (退出 is a form,
# rendered after these), led by the way back to one's own 个人信息中心.
USER_MENU: list[MenuItem] = [
    MenuItem("portal.me", N_("Personal centre")),
    MenuItem("portal.password", N_("Change password")),
    MenuItem("portal.account", N_("Edit account information")),
    MenuItem("portal.profile", N_("Edit profile")),
    MenuItem("sessions.index", N_("Signed-in devices")),
    MenuItem("admin.index", N_("Back office"), show=lambda user: current_scope().is_admin),
    MenuItem("entry.help_page", N_("Help")),
]


def _entries(items: list[MenuItem]) -> list[tuple[MenuItem, str, str]]:
    """(item, url, label) of the registered entries, built once per language and URL root, not per request."""
    cache = current_app.extensions.setdefault("hwr_menus", {})
    key = (tuple(items), str(get_locale()), request.script_root)
    got = cache.get(key)
    if got is None:
        got = cache[key] = [(item, url_for(item.endpoint), _(item.label)) for item in items
                            if item.endpoint in current_app.view_functions]
    return got


def links(items: list[MenuItem]) -> list[Link]:
    """The entries the signed-in user may see, with the current page marked."""
    if not current_user.is_authenticated:
        return []
    here = request.endpoint
    out = []
    for item, url, label in _entries(items):
        current = here == item.endpoint or here in item.also_current
        # The page one is on always has its entry (reached from a message's link before it is offered).
        if item.show and not current and not item.show(current_user):
            continue
        out.append(Link(url=url, label=label, key=item.endpoint, current=current))
    return out


def init_app(app: Flask) -> None:
    """Make the menus available to every template (portal and Flask-Admin)."""

    @app.context_processor
    def _menus():
        return {"personal_nav": lambda: links(PERSONAL_NAV), "user_menu": lambda: links(USER_MENU)}
