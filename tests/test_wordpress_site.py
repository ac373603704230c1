"""The WordPress connector in a real WordPress from Debian's packages, MariaDB and `moderation serve`.

One site per module: Debian's /usr/share/wordpress copied into a temporary folder with its own
wp-config.php (nothing may leave the machine: external HTTP blocked, no updates, no WP-Cron), served
by PHP's built-in web server on loopback, installed by WordPress's own installer over HTTP, our
plugin activated and configured through wp-admin with its nonces. Readers post through
wp-comments-post.php as a browser does, each from its own loopback address, as real readers come
from their own IPs (WordPress's flood check follows the IP).

The service's webhooks reach the plugin's REST route through a recording relay in this process, so
a test can replay or tamper with a delivery byte for byte.
"""

from __future__ import annotations

import html
import http.server
import json
import os
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests
from requests.adapters import HTTPAdapter

from tests.helpers import CHROMIUM
from tests.serving import (
    Instance,
    children,
    create_key,
    db_upgrade,
    free_port,
    service_env,
    start_instance,
    stop_instances,
    wait_until_ready,
)

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "integrations" / "wordpress" / "moderation-connector"
SITE_SETUP = Path(__file__).resolve().parent / "php" / "wordpress-site-setup.php"
DEBIAN_WORDPRESS = Path("/usr/share/wordpress")
MARIADB = ["mariadb", "-h", "127.0.0.1", "-P", "3306", "-u", "root"]
PLUGIN_FILE = "moderation-connector/moderation-connector.php"
WATCHED_TERM = "zeppelin"
TIMEOUT = 2.0  # the plugin's timeout for the service's answer, set on its settings page
SPAM = (
    "CONGRATULATIONS!!! You have been selected to receive a $1000 gift card. Claim now at "
    "http://free-gift-cards.example/claim or WhatsApp +1 555 0199 before midnight!!!"
)
TOXIC = "You are a pathetic moron and a disgusting idiot. Shut up, you worthless piece of garbage."
# Screenshots for docs/integrations.md are written here when the variable names a folder.
SCREENSHOTS = os.environ.get("MODERATION_TEST_SCREENSHOTS_DIR", "")

# One xdist worker runs the whole module: its WordPress site is set up once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("test_wordpress_site")]


def required(what: str) -> None:
    """Skip locally without a piece of the environment; fail where CI requires it."""
    if os.environ.get("MODERATION_TEST_REQUIRE_SERVICES") or os.environ.get("CI"):
        pytest.fail(f"{what} is missing: .ci/run installs and starts it for the WordPress site tests")
    pytest.skip(f"{what} is missing (CI installs it and requires these tests)")


def check_environment() -> str:
    """Return the php binary once WordPress, PHP's MySQL driver and MariaDB are all there."""
    php = shutil.which("php")
    if not php:
        required("php (Debian php-cli)")
    if not (DEBIAN_WORDPRESS / "wp-includes" / "version.php").exists():
        required("Debian's wordpress package")
    modules = subprocess.run([php, "-m"], capture_output=True, text=True, timeout=30).stdout.split()
    if "mysqli" not in modules:
        required("PHP's MySQL driver (Debian php-mysql)")
    if not shutil.which("mariadb"):
        required("the MariaDB client")
    answer = subprocess.run(
        [*MARIADB, "-N", "-e", "SELECT 1"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    if answer.returncode != 0:
        required(f"MariaDB at 127.0.0.1:3306 ({answer.stderr.strip()})")
    return php


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    """Poll condition until it returns something truthy, and return it; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@dataclass
class Database:
    """A MariaDB database of its own for the test site, queried with the mariadb client."""

    name: str

    def query(self, statement: str) -> list[list[str]]:
        done = subprocess.run(
            [*MARIADB, "-N", "-B", self.name, "-e", statement],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return [line.split("\t") for line in done.stdout.splitlines()]

    def value(self, statement: str) -> str | None:
        rows = self.query(statement)
        return rows[0][0] if rows else None


class FromAddress(HTTPAdapter):
    """Connect from one loopback address, so each reader reaches WordPress from an IP of their own."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


_readers = count(10)


@dataclass
class Reader:
    """Someone commenting on the site: a name, an email and a loopback IP of their own."""

    name: str
    email: str
    ip: str
    session: requests.Session = field(repr=False)

    @classmethod
    def new(cls) -> Reader:
        n = next(_readers)
        ip = f"127.0.{n // 250}.{n % 250 + 2}"
        session = requests.Session()
        session.mount("http://", FromAddress(ip))
        tag = secrets.token_hex(4)
        return cls(f"Reader {n}", f"reader{n}.{tag}@example.org", ip, session)


@dataclass
class Relay:
    """Passes each webhook on to the plugin unchanged and keeps what was sent and answered."""

    target: str
    server: http.server.ThreadingHTTPServer
    deliveries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/webhook"


def start_relay(target: str) -> Relay:
    relay: Relay

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k: v for k, v in self.headers.items() if k.lower().startswith("x-moderation-")}
            headers["Content-Type"] = self.headers.get("Content-Type", "application/json")
            answer = requests.post(relay.target, data=body, headers=headers, timeout=30)
            relay.deliveries.append(
                {"headers": headers, "body": body, "status": answer.status_code, "answer": answer.text}
            )
            self.send_response(answer.status_code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    relay = Relay(target, server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return relay


@dataclass
class Site:
    """The running WordPress site, its database, its admin's session and our service beside it."""

    base: str
    root: Path
    db: Database
    admin: requests.Session
    posts: list[int]
    service: Instance
    service_db: Path
    keys: dict[str, str]
    secret: str
    relay: Relay
    log: Path

    def post_url(self, post_id: int) -> str:
        return f"{self.base}/?p={post_id}"

    def comment(self, reader: Reader, text: str, post_id: int | None = None) -> requests.Response:
        """Post the comment form to wp-comments-post.php as a browser does; the redirect is not followed."""
        post_id = post_id or self.posts[0]
        return reader.session.post(
            f"{self.base}/wp-comments-post.php",
            data={"author": reader.name, "email": reader.email, "url": "", "comment": text,
                  "comment_post_ID": str(post_id), "comment_parent": "0", "submit": "Post Comment"},
            headers={"Referer": self.post_url(post_id), "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Test"},
            allow_redirects=False, timeout=30,
        )  # fmt: skip

    def status(self, comment_id: int) -> str | None:
        """comment_approved as WordPress stored it: 1, 0, spam or trash."""
        return self.db.value(f"SELECT comment_approved FROM wp_comments WHERE comment_ID = {int(comment_id)}")

    def meta(self, comment_id: int, key: str) -> str | None:
        return self.db.value(
            "SELECT meta_value FROM wp_commentmeta "
            f"WHERE comment_id = {int(comment_id)} AND meta_key = '{key}'"
        )

    def comments_by(self, reader: Reader) -> int:
        assert re.fullmatch(r"[a-z0-9.]+@example\.org", reader.email)
        return int(
            self.db.value(f"SELECT COUNT(*) FROM wp_comments WHERE comment_author_email = '{reader.email}'")
        )

    def service_comment(self, our_id: str) -> dict[str, Any]:
        answer = requests.get(
            f"{self.service.base}/v1/comments/{our_id}",
            headers={"Authorization": f"Bearer {self.keys['client']}"}, timeout=10,
        )  # fmt: skip
        assert answer.status_code == 200, answer.text
        return answer.json()

    def service_rows(self, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        with closing(sqlite3.connect(self.service_db)) as db:
            return db.execute(statement, params).fetchall()

    def admin_page(self, path: str) -> str:
        return admin_page(self.base, self.admin, path)

    def admin_link(self, page_path: str, pattern: str) -> str:
        return admin_link(self.base, self.admin, page_path, pattern)

    def backdate(self, comment_id: int, seconds: int) -> None:
        """Move a comment's date back, as if its reader had posted it seconds earlier."""
        self.db.query(
            f"UPDATE wp_comments SET comment_date = comment_date - INTERVAL {int(seconds)} SECOND, "
            f"comment_date_gmt = comment_date_gmt - INTERVAL {int(seconds)} SECOND "
            f"WHERE comment_ID = {int(comment_id)}"
        )

    def review(self, our_id: str, action: str, label: str) -> None:
        answer = requests.post(
            f"{self.service.base}/v1/comments/{our_id}/review",
            json={"action": action, "label": label, "note": "reviewed in the WordPress site test"},
            headers={"Authorization": f"Bearer {self.keys['moderator']}"}, timeout=10,
        )  # fmt: skip
        assert answer.status_code == 200, answer.text


def admin_page(base: str, admin: requests.Session, path: str) -> str:
    """A wp-admin page's HTML, as the signed-in admin sees it."""
    page = admin.get(urljoin(f"{base}/wp-admin/", path), timeout=30)
    assert page.status_code == 200, page.text[-2000:]
    return page.text


def admin_link(base: str, admin: requests.Session, page_path: str, pattern: str) -> str:
    """The absolute URL of the first link on a wp-admin page whose href matches pattern (nonce included)."""
    for href in re.findall(r'href="([^"]+)"', admin_page(base, admin, page_path)):
        href = html.unescape(href)
        if re.search(pattern, href):
            return urljoin(f"{base}/wp-admin/", href)
    raise AssertionError(f"no link matching {pattern} on {page_path}")


def comment_id_of(response: requests.Response) -> int:
    """The new comment's id, from the #comment-N fragment of WordPress's redirect after posting."""
    assert response.status_code == 302, response.text[-2000:]
    found = re.search(r"#comment-(\d+)$", response.headers["Location"])
    assert found, response.headers["Location"]
    return int(found.group(1))


def wp_config(database: str, base: str) -> str:
    salts = "\n".join(
        f"define( '{name}', '{secrets.token_hex(32)}' );"
        for name in ("AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY",
                     "AUTH_SALT", "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT")
    )  # fmt: skip
    return f"""<?php
// The test site's configuration, written by tests/test_wordpress_site.py.
define( 'DB_NAME', '{database}' );
define( 'DB_USER', 'root' );
define( 'DB_PASSWORD', '' );
define( 'DB_HOST', '127.0.0.1:3306' );
define( 'DB_CHARSET', 'utf8mb4' );
define( 'DB_COLLATE', '' );
{salts}
$table_prefix = 'wp_';
define( 'WP_HOME', '{base}' );
define( 'WP_SITEURL', '{base}' );
// Nothing leaves this machine: only this host (127.0.0.1, any port) and localhost are reachable.
define( 'WP_HTTP_BLOCK_EXTERNAL', true );
define( 'AUTOMATIC_UPDATER_DISABLED', true );
define( 'WP_AUTO_UPDATE_CORE', false );
define( 'DISABLE_WP_CRON', true );
define( 'FS_METHOD', 'direct' );
define( 'WP_DEBUG', false );
if ( ! defined( 'ABSPATH' ) ) {{
	define( 'ABSPATH', __DIR__ . '/' );
}}
require_once ABSPATH . 'wp-settings.php';
"""


def start_wordpress(php: str, root: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [php, "-S", f"127.0.0.1:{port}", "-t", str(root)],
            cwd=root, env={**os.environ, "PHP_CLI_SERVER_WORKERS": "4"}, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # its workers are forked children: stopped as one process group
        )  # fmt: skip


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def install(base: str, password: str) -> None:
    """Run WordPress's installer (wp-admin/install.php, step 2) as its form posts it."""
    answer = requests.post(
        f"{base}/wp-admin/install.php?step=2",
        data={"weblog_title": "Defence Desk", "user_name": "editor", "admin_password": password,
              "admin_password2": password, "pw_weak": "1", "admin_email": "editor@example.org",
              "blog_public": "0", "language": "", "Submit": "Install WordPress"},
        timeout=120,
    )  # fmt: skip
    assert answer.status_code == 200 and "Success!" in answer.text, answer.text[-3000:]


def sign_in(base: str, password: str) -> requests.Session:
    admin = requests.Session()
    admin.get(f"{base}/wp-login.php", timeout=30)  # sets WordPress's test cookie
    answer = admin.post(
        f"{base}/wp-login.php",
        data={"log": "editor", "pwd": password, "wp-submit": "Log In", "testcookie": "1",
              "redirect_to": f"{base}/wp-admin/"},
        timeout=30,
    )  # fmt: skip
    assert answer.status_code == 200 and "wp-admin" in answer.url and "Dashboard" in answer.text, answer.url
    return admin


def form_fields(page: str, form_action: str) -> dict[str, str]:
    """The hidden inputs of the form posting to form_action (the nonce among them)."""
    form = re.search(
        r'<form[^>]*action="[^"]*' + re.escape(form_action) + r'[^"]*"[^>]*>(.*?)</form>', page, re.S
    )
    assert form, f"no form posting to {form_action}"
    fields = {}
    for tag in re.findall(r"<input[^>]*>", form.group(1)):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        if 'type="hidden"' in tag and name and value:
            fields[html.unescape(name.group(1))] = html.unescape(value.group(1))
    return fields


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[Site]:
    php = check_environment()
    tmp = tmp_path_factory.mktemp("wordpress")
    database = Database(f"wp_test_{secrets.token_hex(6)}")
    create = subprocess.run(
        [*MARIADB, "-e",
         f"CREATE DATABASE `{database.name}` CHARACTER SET utf8mb4"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert create.returncode == 0, create.stderr

    root = tmp / "site"
    shutil.copytree(DEBIAN_WORDPRESS, root, symlinks=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    (root / "wp-config.php").write_text(wp_config(database.name, base))
    shutil.copytree(PLUGIN, root / "wp-content" / "plugins" / "moderation-connector")

    log = tmp / "php-server.log"
    server = start_wordpress(php, root, port, log)
    service: Instance | None = None
    relay: Relay | None = None
    try:

        def answering() -> bool:
            assert server.poll() is None, log.read_text(errors="replace")
            try:
                return requests.get(f"{base}/wp-login.php", timeout=5, allow_redirects=False).status_code > 0
            except requests.ConnectionError:
                return False

        wait_for(answering, "PHP's web server")
        password = secrets.token_urlsafe(18)
        install(base, password)
        setup = subprocess.run(
            [php, str(SITE_SETUP), str(root), "3"], capture_output=True, text=True, timeout=60, cwd=root
        )
        assert setup.returncode == 0, setup.stdout + setup.stderr
        posts = json.loads(setup.stdout.strip().splitlines()[-1])
        admin = sign_in(base, password)

        # Activate the plugin with the link and nonce of wp-admin's Plugins page.
        activate = admin_link(base, admin, "plugins.php", r"action=activate&plugin=moderation-connector%2F")
        answer = admin.get(activate, timeout=30)
        assert answer.status_code == 200 and "Plugin activated." in answer.text, answer.text[-2000:]

        # The settings page shows the webhook URL to give the service.
        settings_page = admin_page(base, admin, "options-general.php?page=moderation-connector")
        shown = re.search(r"<code>([^<]*webhook[^<]*)</code>", settings_page)
        assert shown, settings_page[-3000:]
        hook_url = html.unescape(shown.group(1))
        # The installer turned on pretty permalinks (PHP's server sends unknown paths to index.php).
        assert hook_url == f"{base}/wp-json/moderation/v1/webhook", hook_url
        relay = start_relay(hook_url)

        secret = secrets.token_hex(24)
        service_db = tmp / "service.sqlite3"
        env = service_env(
            f"sqlite:///{service_db}", model_dir, watched_terms=WATCHED_TERM, rate_limit="off",
            # Longer than WordPress's own 15 s, so the service's flood check can be seen on its own.
            flood_seconds="300", webhook_url=relay.url, webhook_secret=secret,
            instance_dir=str(tmp / "instance"), secret_key=secrets.token_hex(32),
        )  # fmt: skip
        db_upgrade(env)
        keys = {role: create_key(env, role) for role in ("client", "moderator")}
        service = start_instance(env, tmp / "serve.log", workers=2)
        wait_until_ready(service)

        # Configure the plugin as an admin does: the settings form, with its nonce.
        fields = form_fields(settings_page, "admin-post.php")
        assert fields["action"] == "moderation_connector_save" and fields["_wpnonce"]
        saved = admin.post(
            f"{base}/wp-admin/admin-post.php",
            data={**fields, "service_url": service.base, "client_key": keys["client"],
                  "webhook_secret": secret, "timeout": str(TIMEOUT), "trash_toxic": "1"},
            timeout=30,
        )  # fmt: skip
        assert saved.status_code == 200 and "Settings saved." in saved.text, saved.text[-2000:]
        yield Site(base, root, database, admin, posts, service, service_db, keys, secret, relay, log)
    finally:
        if relay is not None:
            relay.server.shutdown()
            relay.server.server_close()
        if service is not None:
            stop_instances(service)
        # The master does not stop its workers on SIGTERM, so the whole group goes.
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        wait_for(lambda: not group_alive(server.pid), "PHP's web server workers to stop", timeout=15)
        subprocess.run(
            [*MARIADB, "-e", f"DROP DATABASE IF EXISTS `{database.name}`"],
            capture_output=True, timeout=30,
        )  # fmt: skip


@pytest.fixture
def browser(site: Site, request: pytest.FixtureRequest) -> Any:
    """The session's chromium (Debian's, through Playwright); each test opens its own contexts."""
    if not CHROMIUM.exists():
        required(f"{CHROMIUM} (Debian's chromium)")
    return request.getfixturevalue("chromium")


def signed_in(browser: Any, site: Site) -> Any:
    """A chromium context carrying the admin session's cookies."""
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    context.add_cookies(
        [{"name": c.name, "value": c.value, "url": site.base} for c in site.admin.cookies if c.value]
    )
    return context


def screenshot(page: Any, tmp_path: Path, name: str) -> None:
    """Keep a screenshot with the test's files, and in the docs folder when asked to."""
    page.screenshot(path=str(tmp_path / name))
    if SCREENSHOTS:
        shutil.copy2(tmp_path / name, Path(SCREENSHOTS) / name)


def notice_after(site: Site, reader: Reader, response: requests.Response) -> str:
    """The text of our notice on the page WordPress redirects the reader to ('' when there is none)."""
    page = reader.session.get(response.headers["Location"], timeout=30)
    assert page.status_code == 200
    found = re.search(r'<p id="moderation-notice"[^>]*>(.*?)</p>', page.text, re.S)
    return html.unescape(found.group(1)) if found else ""


def test_a_civil_comment_posted_in_a_browser_is_published(site, browser):
    text = f"Clear piece on the frigate delays, thanks; the history of the yard helps {secrets.token_hex(3)}"
    page = browser.new_context(viewport={"width": 1100, "height": 760}).new_page()
    page.goto(site.post_url(site.posts[0]))
    page.fill("#comment", text)
    page.fill("#author", "Browser Reader")
    page.fill("#email", f"browser.{secrets.token_hex(4)}@example.org")
    with page.expect_navigation():
        page.click("#submit")
    found = re.search(r"#comment-(\d+)$", page.url)
    assert found, page.url
    comment_id = int(found.group(1))
    assert site.status(comment_id) == "1"
    assert site.meta(comment_id, "_moderation_decision") == "approve"
    assert site.service_comment(site.meta(comment_id, "_moderation_id"))["status"] == "approved"
    assert page.get_by_text(text).is_visible() and page.locator(f"#comment-{comment_id}").count() == 1
    assert page.locator("#moderation-notice").count() == 0
    # Anyone else opening the post sees it too.
    assert text in requests.get(site.post_url(site.posts[0]), timeout=30).text


@pytest.mark.parametrize(
    ("text", "status", "reason"),
    [
        (SPAM, "spam", None),
        (TOXIC, "trash", "toxicity"),  # the settings page has "toxic comments to the trash" on
        (f"Does anyone know when the {WATCHED_TERM} exhibition opens again?", "0", "watched_term"),
    ],
    ids=["spam", "toxic", "watched-term"],
)
def test_spam_toxic_and_borderline_comments_land_where_the_plugin_says(site, text, status, reason):
    reader = Reader.new()
    answer = site.comment(reader, text)
    comment_id = comment_id_of(answer)
    assert site.status(comment_id) == status
    if reason:
        assert site.meta(comment_id, "_moderation_reason") == reason
    ours = site.service_comment(site.meta(comment_id, "_moderation_id"))
    assert ours["decision"] == ("hold" if status == "0" else "reject")
    assert ours["client_comment_id"] == site.meta(comment_id, "_moderation_client_id")
    # The reader sees our commenter-safe message above the comment form, and never the comment.
    assert notice_after(site, reader, answer) == ours["reason"]["message"] != ""
    if status != "0":
        assert text not in requests.get(site.post_url(site.posts[0]), timeout=30).text


def test_a_duplicate_and_a_flood_get_wordpress_error_pages(site):
    reader = Reader.new()
    text = f"The second hull was laid down in 2019, if I remember well ({secrets.token_hex(3)})."
    first = comment_id_of(site.comment(reader, text, site.posts[0]))
    assert site.status(first) == "1"

    # WordPress's own flood check (15 s, by IP or email) answers first, without asking us.
    own = site.comment(reader, "And the third one?", site.posts[0])
    assert own.status_code == 429 and "You are posting comments too quickly." in own.text
    assert "Comment Submission Failure" in own.text

    # A minute later for WordPress, still inside the service's 5-minute windows.
    site.backdate(first, 60)
    duplicate = site.comment(reader, text, site.posts[1])  # another post: WordPress's own check passes
    assert duplicate.status_code == 409, duplicate.text[-2000:]
    assert "Comment Submission Failure" in duplicate.text and "already said that" in duplicate.text
    flood = site.comment(reader, "One more thought on the budget line.", site.posts[2])
    assert flood.status_code == 429, flood.text[-2000:]
    assert "Comment Submission Failure" in flood.text and "too quickly" in flood.text
    assert site.comments_by(reader) == 1
    reasons = site.service_rows(
        "SELECT reason_code FROM comments WHERE email = ? ORDER BY created_at", reader.email
    )
    assert [row[0] for row in reasons][-2:] == ["duplicate", "flood"]


def held_comment(site: Site, question: str) -> tuple[int, str]:
    reader = Reader.new()
    comment_id = comment_id_of(site.comment(reader, f"{question} {WATCHED_TERM} {secrets.token_hex(3)}?"))
    assert site.status(comment_id) == "0"
    return comment_id, site.meta(comment_id, "_moderation_id")


def delivery_for(site: Site, our_id: str, status: str) -> dict[str, Any]:
    def delivered() -> dict[str, Any] | None:
        for delivery in list(site.relay.deliveries):
            event = json.loads(delivery["body"])
            if event.get("comment_id") == our_id and event.get("status") == status:
                return delivery
        return None

    return wait_for(delivered, f"the webhook for {our_id} ({status})")


def test_reviews_in_our_queue_reach_wordpress_by_signed_webhook(site):
    approved, approved_ours = held_comment(site, "When will the")
    rejected, rejected_ours = held_comment(site, "Who paid for the")

    site.review(approved_ours, "approve", "ham")
    site.review(rejected_ours, "reject", "spam")
    wait_for(lambda: site.status(approved) == "1", "the approval to reach WordPress")
    wait_for(lambda: site.status(rejected) == "spam", "the rejection to reach WordPress")
    approval = delivery_for(site, approved_ours, "approved")
    assert approval["status"] == 200, approval["answer"]
    assert site.meta(approved, "_moderation_status") == "approved"

    # Someone sends the captured approval again after the site's moderator unpublished the comment.
    site.db.query(f"UPDATE wp_comments SET comment_approved = '0' WHERE comment_ID = {approved}")
    replay = requests.post(site.relay.target, data=approval["body"], headers=approval["headers"], timeout=30)
    assert replay.status_code < 500, replay.text
    assert site.status(approved) == "0"

    # The captured rejection with its body changed to an approval fails the signature.
    rejection = delivery_for(site, rejected_ours, "rejected")
    tampered = rejection["body"].replace(b'"rejected"', b'"approved"')
    assert tampered != rejection["body"]
    answer = requests.post(site.relay.target, data=tampered, headers=rejection["headers"], timeout=30)
    assert answer.status_code == 401, answer.text
    forged_headers = {**rejection["headers"], "X-Moderation-Delivery": str(10**9)}
    answer = requests.post(site.relay.target, data=tampered, headers=forged_headers, timeout=30)
    assert answer.status_code == 401, answer.text
    assert site.status(rejected) == "spam"


def test_spam_and_not_spam_in_wp_admin_reach_us_as_feedback(site):
    reader = Reader.new()
    comment_id = comment_id_of(
        site.comment(reader, f"Good to see the costs set out plainly ({secrets.token_hex(3)}).")
    )
    assert site.status(comment_id) == "1"
    ours = site.meta(comment_id, "_moderation_id")

    def labels() -> list[str]:
        rows = site.service_rows(
            "SELECT label FROM labels WHERE source = 'cms_feedback' AND comment_id = ? ORDER BY id", ours
        )
        return [row[0] for row in rows]

    spam_link = site.admin_link(
        "edit-comments.php?comment_status=approved", rf"c={comment_id}&action=spamcomment&"
    )
    answer = site.admin.get(spam_link, timeout=30)
    assert answer.status_code == 200
    assert site.status(comment_id) == "spam"
    assert labels()[-1:] == ["spam"]
    assert site.meta(comment_id, "_moderation_feedback") == "spam"

    unspam_link = site.admin_link(
        "edit-comments.php?comment_status=spam", rf"c={comment_id}&action=unspamcomment&"
    )
    answer = site.admin.get(unspam_link, timeout=30)
    assert answer.status_code == 200
    assert site.status(comment_id) == "1"
    assert labels()[-1:] == ["ham"]
    assert site.meta(comment_id, "_moderation_feedback") == "ham"


def test_a_held_comment_in_wp_admin_and_our_queue(site, browser, tmp_path):
    comment_id, ours = held_comment(site, "Is the")
    page = signed_in(browser, site).new_page()
    page.goto(f"{site.base}/wp-admin/options-general.php?page=moderation-connector")
    assert page.locator("#moderation-client-key").input_value() == ""  # never printed back
    assert page.get_by_text(site.relay.target).is_visible()
    screenshot(page, tmp_path, "wordpress-settings.png")

    page.goto(f"{site.base}/wp-admin/edit-comments.php?comment_status=moderated")
    row = page.locator(f"#comment-{comment_id}")
    assert row.is_visible() and WATCHED_TERM in row.inner_text()
    screenshot(page, tmp_path, "wordpress-held-comment.png")

    page.goto(f"{site.service.base}/moderate/login")
    page.fill("#key", site.keys["moderator"])
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.locator(f"#c-{ours}").is_visible()
    screenshot(page, tmp_path, "wordpress-our-queue.png")


def freeze(instance: Instance, sig: signal.Signals) -> None:
    for pid in (instance.process.pid, *children(instance.process.pid)):
        os.kill(pid, sig)


def test_with_the_service_hung_or_stopped_comments_are_held_unchecked(site):
    reader = Reader.new()
    freeze(site.service, signal.SIGSTOP)  # it accepts connections and never answers
    try:
        started = time.monotonic()
        hung = site.comment(
            reader, f"Thanks for the detailed report ({secrets.token_hex(3)}).", site.posts[1]
        )
        elapsed = time.monotonic() - started
    finally:
        freeze(site.service, signal.SIGCONT)
    comment_id = comment_id_of(hung)
    assert site.status(comment_id) == "0"
    assert site.meta(comment_id, "_moderation_decision") == "unchecked"
    assert notice_after(site, reader, hung) == "Your comment is awaiting moderation."
    # The plugin's timeout plus a generous allowance for WordPress itself on a busy machine.
    assert TIMEOUT <= elapsed < TIMEOUT + 15, elapsed

    stop_instances(site.service)
    assert site.service.process.returncode == 0, site.service.tail()
    other = Reader.new()
    stopped = site.comment(other, f"Good summary of the hearing ({secrets.token_hex(3)}).", site.posts[1])
    comment_id = comment_id_of(stopped)
    assert site.status(comment_id) == "0"
    assert site.meta(comment_id, "_moderation_decision") == "unchecked"
    assert "moderation-connector: comment held unchecked" in site.log.read_text(errors="replace")


def test_deactivating_and_uninstalling_leaves_wordpress_working(site):
    assert (
        site.db.value("SELECT COUNT(*) FROM wp_options WHERE option_name = 'moderation_connector_settings'")
        == "1"
    )
    deactivate = site.admin_link("plugins.php", r"action=deactivate&plugin=moderation-connector%2F")
    answer = site.admin.get(deactivate, timeout=30)
    assert answer.status_code == 200 and "Plugin deactivated." in answer.text

    # WordPress alone decides again: a civil comment is published with none of our meta.
    reader = Reader.new()
    comment_id = comment_id_of(
        site.comment(reader, f"Thanks for the update ({secrets.token_hex(3)}).", site.posts[2])
    )
    assert site.status(comment_id) == "1"
    assert site.meta(comment_id, "_moderation_decision") is None

    delete = site.admin_link(
        "plugins.php", r"action=delete-selected&checked(\[\]|%5B0?%5D)=moderation-connector%2F"
    )
    confirm = site.admin.get(delete, timeout=30)
    assert confirm.status_code == 200 and "verify-delete" in confirm.text
    fields = form_fields(confirm.text, "plugins.php?action=delete-selected")
    assert fields["verify-delete"] == "1" and fields["checked[]"] == PLUGIN_FILE
    deleted = site.admin.post(delete, data=fields, timeout=60)
    assert deleted.status_code == 200, deleted.text[-2000:]
    assert not (site.root / "wp-content" / "plugins" / "moderation-connector").exists()
    assert (
        site.db.value("SELECT COUNT(*) FROM wp_options WHERE option_name = 'moderation_connector_settings'")
        == "0"
    )
    assert requests.get(site.post_url(site.posts[2]), timeout=30).status_code == 200
    assert "Moderation Connector" not in site.admin_page("plugins.php")
