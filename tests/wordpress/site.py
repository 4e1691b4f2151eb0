"""A real WordPress (Debian's package) on MariaDB, served by ``php -S`` on a free loopback port.

Installed without network access: a database of its own, a Debian host config in /etc/wordpress
(``config-<name>.php``, found through the router), a wp-content of symlinks in a temporary directory,
and ``wp_install()`` called from PHP. Skipped when PHP, WordPress or MariaDB are missing, unless
MODERATION_REQUIRE_WORDPRESS=1 (CI), where that is a failure.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

WORDPRESS = Path("/usr/share/wordpress")
CONFIG_DIR = Path("/etc/wordpress")
HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PLUGIN = REPO / "integrations" / "wordpress" / "moderation"
AKISMET_REDIRECT = REPO / "integrations" / "wordpress" / "akismet-to-moderation.php"
MARIADB = ("127.0.0.1", 3306)
ADMIN_USER, ADMIN_PASSWORD = "redaksi", "kata-sandi-uji-" + "x" * 8
RESULT_MARK = "\n@@RESULT@@\n"


def require_wordpress() -> None:
    """Skip (or, with MODERATION_REQUIRE_WORDPRESS=1, fail) when this machine cannot run WordPress."""
    missing = []
    if shutil.which("php") is None:
        missing.append("php (apt-get install php-cli php-mysql php-curl php-xml php-mbstring)")
    if not (WORDPRESS / "wp-load.php").exists():
        missing.append("WordPress (apt-get install wordpress wordpress-l10n)")
    if shutil.which("mysql") is None:
        missing.append("the mysql client (apt-get install mariadb-client)")
    elif subprocess.run(mysql_command("SELECT 1"), capture_output=True, timeout=30).returncode != 0:
        missing.append(f"MariaDB on {MARIADB[0]}:{MARIADB[1]} (root, no password)")
    if not os.access(CONFIG_DIR, os.W_OK):
        missing.append(f"write access to {CONFIG_DIR} (Debian's WordPress reads its host configs there)")
    if not missing:
        return
    reason = "cannot run WordPress: missing " + "; ".join(missing)
    if os.environ.get("MODERATION_REQUIRE_WORDPRESS") == "1":
        pytest.fail(f"MODERATION_REQUIRE_WORDPRESS=1 but {reason}")
    pytest.skip(reason)


def mysql_command(sql: str) -> list[str]:
    return ["mysql", "-h", MARIADB[0], "-P", str(MARIADB[1]), "-u", "root", "--batch", "-e", sql]


@dataclass
class Posted:
    """What wp-comments-post.php answered: the redirect's comment id, or WordPress's error page."""

    status: int
    comment_id: int | None
    body: str
    location: str = ""


@dataclass
class WordPress:
    port: int
    root: Path  # the test's directory: wp-content and the server's log
    service_url: str
    name: str = field(default_factory=lambda: "moderation-test-" + secrets.token_hex(4))
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def database(self) -> str:
        return "wordpress_" + self.name.replace("-", "_")

    @property
    def config_file(self) -> Path:
        return CONFIG_DIR / f"config-{self.name}.php"

    @property
    def content(self) -> Path:
        return self.root / "wp-content"

    # -- set-up and tear-down ---------------------------------------------------------------------------

    def install(self, *, title: str, language: str = "id_ID") -> None:
        subprocess.run(mysql_command(f"CREATE DATABASE `{self.database}` CHARACTER SET utf8mb4"), check=True,
                       capture_output=True, timeout=30)
        self._content_dir()
        self._write_config()
        self.eval(
            "require_once ABSPATH . 'wp-admin/includes/upgrade.php';"
            f"$r = wp_install({php(title)}, {php(ADMIN_USER)}, 'redaksi@example.co.id', true, '', "
            f"{php(ADMIN_PASSWORD)}, {php(language)});"
            "return $r['user_id'];",
            install=True,
        )
        self.start()

    def _content_dir(self) -> None:
        self.content.mkdir(parents=True)
        for name in ("themes", "languages"):
            (self.content / name).symlink_to(WORDPRESS / "wp-content" / name)
        plugins = self.content / "plugins"
        plugins.mkdir()
        (plugins / "moderation").symlink_to(PLUGIN)
        (plugins / "akismet").symlink_to(WORDPRESS / "wp-content" / "plugins" / "akismet")
        mu_plugins = self.content / "mu-plugins"
        mu_plugins.mkdir()
        (mu_plugins / "akismet-to-moderation.php").symlink_to(AKISMET_REDIRECT)
        (mu_plugins / "test-machine.php").symlink_to(HERE / "mu-test.php")
        (self.content / "uploads").mkdir()

    def _write_config(self) -> None:
        salts = "\n".join(
            f"define({php(name)}, {php(secrets.token_hex(32))});"
            for name in ("AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT",
                         "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT")
        )
        self.config_file.write_text(
            "<?php\n"
            f"define('DB_NAME', {php(self.database)});\n"
            "define('DB_USER', 'root');\ndefine('DB_PASSWORD', '');\n"
            f"define('DB_HOST', '{MARIADB[0]}:{MARIADB[1]}');\n"
            f"define('WP_HOME', {php(self.url)});\ndefine('WP_SITEURL', {php(self.url)});\n"
            f"define('WP_CONTENT_DIR', {php(str(self.content))});\n"
            f"define('WP_CONTENT_URL', {php(self.url + '/wp-content')});\n"
            # No network: nothing but this machine (the service is on 127.0.0.1 too) may be called.
            "define('WP_HTTP_BLOCK_EXTERNAL', true);\n"
            "define('DISABLE_WP_CRON', true);\ndefine('AUTOMATIC_UPDATER_DISABLED', true);\n"
            f"define('MODERATION_AKISMET_URL', {php(self.service_url)});\n"
            f"{salts}\n$table_prefix = 'wp_';\n",
            encoding="utf-8",
        )

    def start(self) -> None:
        env = {**os.environ, "MODERATION_WP_CONFIG": self.name, "MODERATION_WP_CONTENT": str(self.content),
               "PHP_CLI_SERVER_WORKERS": "4"}  # webhooks arrive while a page is being served
        with (self.root / "php-server.log").open("wb") as log:
            # Its own process group: with workers, php -S forks children that must stop with it.
            self.process = subprocess.Popen(
                ["php", "-S", self.host, "-t", str(WORDPRESS), str(HERE / "router.php")],
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if self.get("/wp-login.php")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("php -S did not start: " + (self.root / "php-server.log").read_text(errors="replace"))

    def stop(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):  # the whole group already gone
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            self.process = None
        self.config_file.unlink(missing_ok=True)
        subprocess.run(mysql_command(f"DROP DATABASE IF EXISTS `{self.database}`"), capture_output=True, timeout=30)

    # -- talking to it --------------------------------------------------------------------------------

    def eval(self, code: str, *, install: bool = False) -> Any:
        """Run PHP inside WordPress (as WP-CLI would) and return what the code returns, decoded from JSON."""
        args = ["php", str(HERE / "eval.php"), self.name, self.host] + (["install"] if install else [])
        result = subprocess.run(args, input=code.encode(), capture_output=True, timeout=60)
        out = result.stdout.decode("utf-8", "replace")
        if result.returncode != 0 or RESULT_MARK not in out:
            raise AssertionError(f"PHP failed ({result.returncode}): {out[-3000:]} {result.stderr.decode()[-3000:]}")
        return json.loads(out.rsplit(RESULT_MARK, 1)[1])

    def get(self, path: str) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def post_comment(self, post_id: int, *, author: str, email: str, content: str, url: str = "") -> Posted:
        """Submit WordPress's own comment form to wp-comments-post.php, as a reader's browser does."""
        form = urllib.parse.urlencode({"comment_post_ID": post_id, "author": author, "email": email, "url": url,
                                       "comment": content, "comment_parent": 0, "submit": "Kirim Komentar"})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request("POST", "/wp-comments-post.php", body=form,
                         headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "Mozilla/5.0 test"})
            response = conn.getresponse()
            body = response.read().decode("utf-8", "replace")
            location = response.getheader("Location") or ""
        finally:
            conn.close()
        fragment = urllib.parse.urlsplit(location).fragment
        comment_id = int(fragment.removeprefix("comment-")) if fragment.startswith("comment-") else None
        return Posted(response.status, comment_id, body, location)

    def comment(self, comment_id: int) -> dict[str, Any]:
        """The comment's status in WordPress and what the plugins keep with it."""
        return self.eval(  # type: ignore[no-any-return]
            f"$id = {int(comment_id)};"
            "return array('status' => wp_get_comment_status($id), 'meta' => array_map(function ($v) {"
            " return $v[0]; }, get_comment_meta($id)));"
        )

    def wait_for_status(self, comment_id: int, status: str, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            current = self.comment(comment_id)
            if current["status"] == status or time.monotonic() > deadline:
                return current
            time.sleep(0.3)


def php(value: str) -> str:
    """A PHP single-quoted string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
