"""The web site: ``create_app(settings)`` (web/app.py) builds it from the features in
web/features/, each a module or small package holding its HTML routes, JSON routes and
Atom feed over one shared function; the middleware, page cache, assets, templates and the
helpers features share (web/display.py, web/schemas.py, ...) sit beside them."""

from papertide.web.app import create_app, create_app_from_env
from papertide.web.errors import error_page

__all__ = ["create_app", "create_app_from_env", "error_page"]
