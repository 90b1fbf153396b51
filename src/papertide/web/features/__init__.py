"""The site's features, one module (or small package) each: its HTML routes, JSON routes and
Atom feed over one shared function, and a ``feature = Feature(...)`` that declares them
(web/feature.py). The app factory finds every module here; nothing else registers them."""
