"""A PostgreSQL server of a test's own, on a spare port on 127.0.0.1, that the test can restart.

It is made with the machine's `initdb` and `pg_ctl` (Debian puts them in /usr/lib/postgresql/<version>/bin). As
root, PostgreSQL refuses to run, so the commands run as the `postgres` user, in a folder that user owns.
"""

import asyncio
import contextlib
import glob
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.faults.process import free_port


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


class OwnPostgres:
    def __init__(self, bin_dir: Path, folder: Path, port: int) -> None:
        self.bin, self.folder, self.port = bin_dir, folder, port
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"

    async def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        proc = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        out, _ = await proc.communicate()
        if proc.returncode:
            raise RuntimeError(f"{tool} failed: {out.decode(errors='replace')[-2000:]}")

    def _options(self) -> str:
        return f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"

    async def start(self) -> None:
        data = str(self.folder / "data")
        await self._run("initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        await self._run("pg_ctl", "-D", data, "-o", self._options(), "-l", str(self.folder / "log"), "-w", "start")

    async def restart(self) -> None:
        """Stop fast (every connection is cut, as in a failover) and start again."""
        data = str(self.folder / "data")
        log = str(self.folder / "log")  # the server must not write to (and keep open) our pipe
        await self._run("pg_ctl", "-D", data, "-m", "fast", "-o", self._options(), "-l", log, "-w", "restart")

    async def stop(self) -> None:
        await self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")


@contextlib.asynccontextmanager
async def own_postgres() -> AsyncIterator[OwnPostgres]:
    """A fresh server for the length of the block (the test is skipped where PostgreSQL is not installed)."""
    bin_dir = _binaries()
    if bin_dir is None:
        pytest.skip("PostgreSQL's initdb and pg_ctl are not installed")
    folder = Path(tempfile.mkdtemp(prefix="symposium-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    server = OwnPostgres(bin_dir, folder, free_port())
    try:
        await server.start()
        yield server
    finally:
        with contextlib.suppress(RuntimeError):
            await server.stop()
        shutil.rmtree(folder, ignore_errors=True)
