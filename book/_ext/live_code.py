"""Sphinx extension: *Live Code* (Thebe) served from the site, configured once per page.

sphinx-thebe 0.3.1 (pulled in by Jupyter Book 1.x) loads Thebe from a public CDN when the reader
clicks *Live Code*, which fails offline, and its inline configuration script is added twice
(``Identifier 'THEBE_JS_URL' has already been declared`` on every page). This extension:

* fetches the npm packages pinned in ``book/_ext/npm-assets.json`` (``thebe`` and the
  ``requirejs`` its widget manager needs; version and sha512 integrity, as a lock file records
  them) with ``npm pack`` into ``_build/.npm``, checks the hash, and copies their prebuilt files
  (no source maps) into ``_static/thebe/``;
* keeps one copy of the inline configuration script, pointing at that local copy;
* replaces ``sphinx-thebe.js`` with ``_static/live-code.js`` (book/_static), which loads the
  local Thebe, marks the page's code cells executable and starts Thebe with the page's
  ``text/x-thebe-config`` (Binder on the published site; a test may point it at a local
  Jupyter server instead).
"""

from __future__ import annotations

import base64
import glob
import hashlib
import json
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

ASSETS = Path(__file__).with_name("npm-assets.json")
THEBE_DIR = "thebe"  # under _static
LOADER = "live-code.js"  # in book/_static
_THEBE_URL = re.compile(r'(const THEBE_JS_URL = ")[^"]*(")')


def _integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def fetch_package(name: str, cache: Path) -> Path:
    """The unpacked npm package ``name`` (pinned in npm-assets.json), fetched once into
    ``cache`` and checked against its recorded integrity."""
    pin = json.loads(ASSETS.read_text(encoding="utf-8"))[name]
    target = cache / f"{name}-{pin['version']}"
    if (target / "package" / "package.json").exists():
        return target / "package"
    cache.mkdir(parents=True, exist_ok=True)
    tarball = cache / f"{name}-{pin['version']}.tgz"
    if not tarball.exists() or _integrity(tarball) != pin["integrity"]:
        npm = shutil.which("npm")
        if npm is None:
            raise ExtensionError("npm is needed to fetch Thebe for Live Code: `make system-deps`")
        subprocess.run(
            [npm, "pack", f"{name}@{pin['version']}", "--pack-destination", str(cache)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
    if _integrity(tarball) != pin["integrity"]:
        raise ExtensionError(
            f"{tarball}: integrity {_integrity(tarball)} differs from the pinned "
            f"{pin['integrity']} in {ASSETS.name}"
        )
    with tarfile.open(tarball) as archive:
        archive.extractall(target, filter="data")
    return target / "package"


def _copy_thebe(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    destination = Path(app.outdir) / "_static" / THEBE_DIR
    destination.mkdir(parents=True, exist_ok=True)
    pins = json.loads(ASSETS.read_text(encoding="utf-8"))
    for name, pin in pins.items():
        if name == "comment":
            continue
        package = fetch_package(name, Path(app.outdir).parent / ".npm")
        for pattern in pin["files"].split():
            for source in glob.glob(str(package / pattern)):
                target = destination / Path(source).name
                if not target.exists() or target.stat().st_size != Path(source).stat().st_size:
                    shutil.copyfile(source, target)


def _page_context(app: Sphinx, pagename: str, templatename: str, context, doctree) -> None:
    """One inline Thebe configuration pointing at the local copy; our loader instead of
    sphinx-thebe's."""
    scripts = context.get("script_files")
    if not scripts:
        return
    pathto = context["pathto"]
    local = pathto(f"_static/{THEBE_DIR}/index.js", 1)
    kept, seen_config = [], False
    for script in scripts:
        body = getattr(script, "attributes", {}).get("body", "") or ""
        filename = getattr(script, "filename", None) or str(script)
        if "THEBE_JS_URL" in body:
            if seen_config:
                continue
            seen_config = True
            script.attributes["body"] = _THEBE_URL.sub(rf"\g<1>{local}\g<2>", body, count=1)
        elif filename.endswith("sphinx-thebe.js"):
            script = type(script)(f"_static/{LOADER}", **{"defer": "defer"})
        kept.append(script)
    context["script_files"] = kept


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", _page_context, priority=900)
    app.connect("build-finished", _copy_thebe)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
