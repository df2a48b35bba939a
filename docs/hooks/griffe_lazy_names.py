"""A griffe extension for the docs site (mkdocs.yml, mkdocstrings' ``extensions``): the names a
package exports lazily, through a module ``__getattr__``, become visible to mkdocstrings.

``kedro_mlflow_magic.hooks`` exports ``LogModelHook`` and ``kedro_mlflow_magic.widgets`` exports
``SignatureEditor`` on first use, so that importing the package stays light. griffe reads the
source without running it and sees only ``__all__``. For each name in a module's ``__all__`` that
griffe did not find, this imports the module, asks it for the name and adds an alias to where
the object really lives: the reference names the public path (``kedro_mlflow_magic.hooks.
LogModelHook``), and a module moving inside its room does not break the site.
"""

from __future__ import annotations

import importlib
from typing import Any

import griffe


class LazyNames(griffe.Extension):
    def on_module(self, *, mod: griffe.Module, **kwargs: Any) -> None:
        exported = [str(name) for name in (mod.exports or ())]
        missing = [name for name in exported if name not in mod.members]
        if not missing:
            return
        module = importlib.import_module(mod.path)
        for name in missing:
            value = getattr(module, name)
            target = f"{value.__module__}.{value.__qualname__}"
            mod.set_member(name, griffe.Alias(name, target, parent=mod))
