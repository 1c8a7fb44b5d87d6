"""gunicorn.conf.py, which gunicorn reads from the project's folder: each web worker, once the app is loaded,
freezes what it loaded and collects young objects less often (full collections stalled every thread)."""

from __future__ import annotations

import gc
import importlib.util
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_worker_freezes_what_it_loaded_and_collects_young_objects_less_often():
    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "gunicorn.conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    before = gc.get_threshold()
    try:
        conf.post_worker_init(None)
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == conf.YOUNG_COLLECTION_EVERY > before[0]
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_gunicorn_reads_it_by_default_from_the_project_folder():
    """The README's command names no config file: gunicorn's default is ./gunicorn.conf.py."""
    printed = subprocess.run(
        [str(ROOT / ".venv/bin/gunicorn"), "--print-config", "app:create_app()"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    settings = {
        name.strip(): value.strip()
        for name, _eq, value in (line.partition("=") for line in printed.splitlines())
    }
    assert settings["config"] == "./gunicorn.conf.py"
    assert "post_worker_init()" in settings["post_worker_init"]
