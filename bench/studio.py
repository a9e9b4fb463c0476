"""Studio start-up: seconds from launching `seer studio` to an interactive page (canvas ready,
operator catalogue loaded) in Debian's chromium, and the page's first load on its own.

    .venv/bin/python bench/studio.py
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time

from playwright.sync_api import sync_playwright

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
]


def main() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ws = tempfile.mkdtemp(prefix="seer-studio-bench-")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_page()
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "studio.cli",
                "studio",
                "--no-browser",
                "--workspace",
                ws,
                "--port",
                str(port),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "SEER_DRIVER_MEMORY": "2g"},
        )
        url = proc.stdout.readline().decode().strip()
        serving = time.perf_counter() - t0
        t1 = time.perf_counter()
        page.goto(url)
        page.wait_for_function("() => window.SEER && SEER.catalog && SEER.getCy()", timeout=30000)
        first = time.perf_counter() - t1
        t2 = time.perf_counter()
        page.reload()
        page.wait_for_function("() => window.SEER && SEER.catalog && SEER.getCy()", timeout=30000)
        again = time.perf_counter() - t2
        proc.terminate()
        proc.wait(20)
        browser.close()
    print(
        f"serving after {serving:.2f} s; page interactive {first:.2f} s after serving "
        f"(reload {again:.2f} s); launch to interactive {serving + first:.2f} s"
    )


if __name__ == "__main__":
    main()
