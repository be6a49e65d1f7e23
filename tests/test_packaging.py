"""
The installed form: a wheel built from this tree, installed into a fresh
virtualenv, runs the server (the package data it needs is in it).
"""

import os
import subprocess
import sys
import sysconfig
import urllib.request

from tests.daemon import Daemon


def test_wheelServes(tmp_path):
    """
    The wheel holds the templates, static files and button images: twistd
    from it starts, and a status button is a PNG.
    """
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path / "dist"), root],
        capture_output=True, text=True, timeout=300,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = (tmp_path / "dist").iterdir()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    installed = subprocess.run([python, "-m", "pip", "install", "--no-deps", "--quiet", str(wheel)],
                               capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr
    # The dependencies come from this environment's site-packages, added
    # as a plain path: its .pth files (this tree's editable install) are
    # not read, so only the wheel's openmessenger can be imported.
    target = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                            capture_output=True, text=True, check=True).stdout.strip()
    with open(os.path.join(target, "dependencies.pth"), "w") as f:
        f.write(sysconfig.get_paths()["purelib"] + "\n")
    where = subprocess.run([python, "-c", "import openmessenger; print(openmessenger.__file__)"],
                           capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert where.startswith(target), where
    (tmp_path / "server").mkdir()
    daemon = Daemon(tmp_path / "server", twistd=(python, "-c", "from twisted.scripts.twistd import run; run()"))
    with daemon.running():
        with urllib.request.urlopen(f"http://127.0.0.1:{daemon.httpPort}/status/nobody.png", timeout=30) as answer:
            assert answer.headers["content-type"] == "image/png"
            assert answer.read().startswith(b"\x89PNG")
