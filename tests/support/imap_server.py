"""A real IMAP server for tests: Debian's Dovecot (`make imap` installs it) on 127.0.0.1, one user, one maildir."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from .waiting import wait_until

DOVECOT = Path("/usr/sbin/dovecot")
USER, PASSWORD = "bounces", "s3cret pass"
NOBODY = 65534  # Dovecot runs no mail process as root: a root test run hands the mailbox to nobody


class ImapServer:
    """Dovecot in the foreground with a configuration of its own in a folder of its own: plain IMAP (no TLS) on
    `.port`, the user USER with PASSWORD, whose INBOX is the maildir `.maildir`. The folder is outside pytest's (which
    only its owner may enter): Dovecot's own processes read the password file and the mailbox as other users."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="sibyl-imap-"))
        self.folder.chmod(0o755)
        self.maildir = self.folder / "home" / USER / "Maildir"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.uid = os.getuid() or NOBODY
        self.gid = os.getgid() if os.getuid() else NOBODY
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"imap://{USER}:{PASSWORD.replace(' ', '%20')}@127.0.0.1:{self.port}/INBOX"

    def start(self) -> None:
        for folder in (self.folder / "run", self.folder / "state", self.maildir.parent):
            folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        (self.folder / "dovecot.conf").write_text(self._configuration())
        self._process = subprocess.Popen(
            [str(DOVECOT), "-F", "-c", str(self.folder / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._listening, timeout=10)

    def hand_over(self) -> None:
        """Give the mailbox to the user Dovecot reads it as (after the test wrote messages into it as root)."""
        if os.getuid() == 0:
            for path in [self.folder / "home", *(self.folder / "home").rglob("*")]:
                os.chown(path, self.uid, self.gid)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def log(self) -> str:
        path = self.folder / "dovecot.log"
        return path.read_text() if path.exists() else ""

    def _listening(self) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def _configuration(self) -> str:
        folder = self.folder
        return f"""
base_dir = {folder / "run"}
state_dir = {folder / "state"}
log_path = {folder / "dovecot.log"}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder / "passwd"}
}}
userdb {{
  driver = static
  args = uid={self.uid} gid={self.gid} home={folder / "home"}/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


def available() -> bool:
    return DOVECOT.exists() and shutil.which("doveconf", path="/usr/bin:/usr/sbin") is not None
