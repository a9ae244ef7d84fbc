"""A private PostgreSQL cluster under MAJLIS_HOME, run from the machine's server binaries.

Used whenever DATABASE_URL is not set: by `majlis db up`, `majlis serve`,
`make demo` and the test session. The cluster listens on a unix socket in a
folder only its server user can enter (and on a loopback port on request), is
initialised with a UTF-8 locale because under plain `C` pg_trgm silently drops
Arabic and Thai letters, and preloads pg_stat_statements for `majlis db health`.

PostgreSQL refuses to run as root, so when we are root the server runs as the
unprivileged `postgres` user (created as `majlis` when the machine has none).
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass
from hashlib import sha1
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

DATABASE_NAME = "majlis"
OWNER_ROLE = "majlis_owner"
APP_ROLE = "majlis_app"
SUPERUSER = "postgres"
EXTENSIONS = ("pg_trgm", "unaccent", "btree_gin", "pg_stat_statements")
# An arbitrary advisory-lock key that serialises `_bootstrap` across processes.
BOOTSTRAP_LOCK_KEY = 0x4D616A6C
MISSING_BINARIES_HINT = (
    "PostgreSQL server binaries not found: install them with "
    "'apt-get install postgresql' (Debian/Ubuntu) or set DATABASE_URL to an existing server."
)
# A unix socket path longer than this is refused by the kernel (sun_path is 108 bytes).
_MAX_SOCKET_PATH = 100


class ClusterError(RuntimeError):
    """The embedded cluster cannot be started, stopped or reached; the message says why."""


def find_server_bindir() -> Path:
    """Locate initdb/pg_ctl/postgres: pg_config, then PATH, then Debian's layout."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if result.returncode == 0:
            candidates.append(Path(result.stdout.strip()))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    debian_root = Path("/usr/lib/postgresql")
    if debian_root.is_dir():
        versions = sorted(
            (p for p in debian_root.iterdir() if p.name.isdigit()),
            key=lambda p: int(p.name),
            reverse=True,
        )
        candidates.extend(v / "bin" for v in versions)
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return bindir
    raise ClusterError(MISSING_BINARIES_HINT)


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class ServerUser:
    """The OS account the postgres server runs as."""

    name: str
    uid: int
    gid: int

    @classmethod
    def for_current_process(cls) -> ServerUser:
        if os.geteuid() != 0:
            entry = pwd.getpwuid(os.geteuid())
            return cls(entry.pw_name, entry.pw_uid, entry.pw_gid)
        for name in ("postgres", "majlis"):
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                continue
            return cls(entry.pw_name, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "majlis"],
            check=True,
        )
        entry = pwd.getpwnam("majlis")
        return cls(entry.pw_name, entry.pw_uid, entry.pw_gid)

    @property
    def is_other_user(self) -> bool:
        return self.uid != os.geteuid()


def _reachable_by_others(path: Path) -> bool:
    """True when every ancestor of `path` lets other users traverse it."""
    for ancestor in [path, *path.parents]:
        if ancestor.exists() and not os.stat(ancestor).st_mode & 0o001:
            return False
    return True


class EmbeddedCluster:
    """One private cluster: data, socket, log and credentials under a home folder."""

    def __init__(self, home: Path, *, durable: bool = True) -> None:
        self.home = home.resolve()
        self.durable = durable
        self.user = ServerUser.for_current_process()
        self.base = self._choose_base()
        self.data_dir = self.base / "pgdata"
        self.socket_dir = self.base / "run"
        self.log_file = self.base / "postgres.log"
        self.state_file = self.home / "cluster.json"

    def _choose_base(self) -> Path:
        """Where the server's files live: under home, unless the server user cannot reach it.

        As root with MAJLIS_HOME under e.g. /root (mode 0700), the unprivileged
        server could not enter its own data folder, and a deep folder can make
        the socket path too long; then the files live in a folder of their own
        named after the home, and home/cluster.json points to it.
        """
        preferred = self.home
        too_long = len(str(preferred / "run" / ".s.PGSQL.65535")) > _MAX_SOCKET_PATH
        unreachable = self.user.is_other_user and not _reachable_by_others(preferred.parent)
        if not (too_long or unreachable):
            return preferred
        digest = sha1(str(self.home).encode()).hexdigest()[:12]
        root = Path("/var/lib/majlis") if os.geteuid() == 0 else Path("/tmp")
        return root / f"majlis-cluster-{digest}"

    # ----- state -----------------------------------------------------------------
    def _load_state(self) -> dict[str, object]:
        if self.state_file.exists():
            return dict(json.loads(self.state_file.read_text()))
        return {}

    def _save_state(self, state: dict[str, object]) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(state, indent=2))
        os.chmod(self.state_file, 0o600)

    @property
    def port(self) -> int:
        return int(str(self._load_state().get("port", 5432)))

    @property
    def tcp(self) -> bool:
        return bool(self._load_state().get("tcp", False))

    def _password(self, role: str) -> str:
        return str(self._load_state()["passwords"][role])  # type: ignore[index]

    def url(self, role: str = APP_ROLE, database: str = DATABASE_NAME) -> str:
        """A SQLAlchemy URL for `role`, over the unix socket."""
        password = quote(self._password(role), safe="")
        host = quote(str(self.socket_dir), safe="")
        return f"postgresql+psycopg://{role}:{password}@/{database}?host={host}&port={self.port}"

    def tcp_url(self, role: str = APP_ROLE, database: str = DATABASE_NAME) -> str | None:
        if not self.tcp:
            return None
        password = quote(self._password(role), safe="")
        return f"postgresql+psycopg://{role}:{password}@127.0.0.1:{self.port}/{database}"

    # ----- running the server's tools ---------------------------------------------
    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        bindir = find_server_bindir()
        kwargs: dict[str, object] = {}
        if self.user.is_other_user:
            kwargs = {"user": self.user.uid, "group": self.user.gid, "extra_groups": []}
        result = subprocess.run(
            [str(bindir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            cwd="/",
            env={**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"},
            **kwargs,  # type: ignore[call-overload]
        )
        if check and result.returncode != 0:
            raise ClusterError(f"{args[0]} failed: {(result.stderr or result.stdout).strip()}")
        return result

    def _own(self, *paths: Path) -> None:
        for path in paths:
            path.mkdir(parents=True, exist_ok=True)
            if self.user.is_other_user:
                os.chown(path, self.user.uid, self.user.gid)
            os.chmod(path, 0o700)

    # ----- lifecycle ------------------------------------------------------------------
    def is_initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def is_running(self) -> bool:
        if not self.is_initialised():
            return False
        return self._run("pg_ctl", "status", "-D", str(self.data_dir), check=False).returncode == 0

    def up(self, *, tcp: bool = False) -> None:
        """Initialise if needed, start if stopped, create roles and database. Idempotent."""
        if not self.is_initialised():
            self._initialise()
        state = self._load_state()
        if tcp and not state.get("tcp"):
            if self.is_running():
                self.down()
            state.update(tcp=True, port=free_loopback_port())
            self._save_state(state)
        if not self.is_running():
            self._recover_stale_pid_file()
            self._write_settings()
            self._run(
                "pg_ctl",
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
            )
        self._bootstrap()

    def down(self) -> None:
        """Stop the server (fast shutdown: sessions end, committed work is kept)."""
        if self.is_running():
            self._run("pg_ctl", "stop", "-w", "-t", "60", "-m", "fast", "-D", str(self.data_dir))

    def status(self) -> dict[str, object]:
        return {
            "home": str(self.home),
            "data_dir": str(self.data_dir),
            "initialised": self.is_initialised(),
            "running": self.is_running(),
            "socket_dir": str(self.socket_dir),
            "port": self.port,
            "tcp": self.tcp,
            "server_user": self.user.name,
        }

    def _initialise(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self._own(self.base, self.data_dir, self.socket_dir)
        passwords = {role: secrets.token_urlsafe(24) for role in (SUPERUSER, OWNER_ROLE, APP_ROLE)}
        self._save_state({"port": 5432, "tcp": False, "passwords": passwords})
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        )

    def _recover_stale_pid_file(self) -> None:
        """After a crash the pid file survives; pg_ctl says no server runs, so remove it."""
        pid_file = self.data_dir / "postmaster.pid"
        if pid_file.exists():
            pid_file.unlink()

    def _write_settings(self) -> None:
        settings = {
            "listen_addresses": "'127.0.0.1'" if self.tcp else "''",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "unix_socket_permissions": "0700",
            "shared_preload_libraries": "'pg_stat_statements'",
            "max_connections": "200",
            "shared_buffers": "'512MB'",
            "work_mem": "'16MB'",
            "maintenance_work_mem": "'512MB'",
            "max_wal_size": "'4GB'",
            "random_page_cost": "1.1",
            "jit": "off",
        }
        if not self.durable:
            # Test clusters trade crash safety for speed: the data is thrown away anyway.
            settings.update(fsync="off", synchronous_commit="off", full_page_writes="off")
        lines = [f"{key} = {value}" for key, value in settings.items()]
        conf = self.data_dir / "majlis.conf"
        conf.write_text("\n".join(lines) + "\n")
        main_conf = self.data_dir / "postgresql.conf"
        if "include_if_exists = 'majlis.conf'" not in main_conf.read_text():
            with main_conf.open("a") as handle:
                handle.write("\ninclude_if_exists = 'majlis.conf'\n")
        if self.user.is_other_user:
            os.chown(conf, self.user.uid, self.user.gid)
        self._own(self.socket_dir)

    def _superuser_connection(self, database: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=SUPERUSER,
            dbname=database,
            autocommit=True,
            connect_timeout=10,
        )

    def _bootstrap(self) -> None:
        """Roles, database and extensions: what migrations cannot do without a superuser."""
        with self._superuser_connection() as conn:
            # Processes that start together (serve's workers, a worker beside them) take
            # turns: concurrent ALTER ROLEs of one role fail with "tuple concurrently
            # updated". Released when the connection closes, after the database exists.
            conn.execute("SELECT pg_advisory_lock(%s)", (BOOTSTRAP_LOCK_KEY,))
            for role, options in ((OWNER_ROLE, "CREATEROLE"), (APP_ROLE, "NOBYPASSRLS")):
                exists = conn.execute(
                    "SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)
                ).fetchone()
                verb = "ALTER" if exists else "CREATE"
                conn.execute(
                    sql.SQL("{} ROLE {} LOGIN {} PASSWORD {}").format(
                        sql.SQL(verb),
                        sql.Identifier(role),
                        sql.SQL(options),
                        sql.Literal(self._password(role)),
                    )
                )
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(SUPERUSER), sql.Literal(self._password(SUPERUSER))
                )
            )
            # `majlis db health` reads every role's statements from pg_stat_statements.
            conn.execute(
                sql.SQL("GRANT pg_read_all_stats TO {}").format(sql.Identifier(OWNER_ROLE))
            )
            self.create_database(DATABASE_NAME)

    def create_database(self, name: str) -> None:
        """Create an empty Majlis database (owned by the owner role, with extensions)."""
        with self._superuser_connection() as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0").format(
                        sql.Identifier(name), sql.Identifier(OWNER_ROLE)
                    )
                )
        with self._superuser_connection(name) as conn:
            for extension in EXTENSIONS:
                conn.execute(
                    sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(extension))
                )
            conn.execute(
                sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(OWNER_ROLE))
            )
            conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            conn.execute(
                sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(sql.Identifier(APP_ROLE))
            )

    def drop_database(self, name: str) -> None:
        with self._superuser_connection() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
