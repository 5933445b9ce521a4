"""Switch each of the proxy's guards off, one at a time, in a copy of src/, and run the tests
that pin it: every line must say FAILS. (The lock and the fleet's lease have test switches,
AUTHCLI_TEST_DISABLE_*, used by the tests themselves; these guards have none, so this script
edits a copy of the code instead.)

    .venv/bin/python scripts/guards-off.py [NAME ...]     # about 2 minutes for all of them
"""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# (guard, module, code, the code with the guard off, the tests that pin it)
MUTANTS = [
    ("peer check off", "peercheck.py",
     "    uid = _peer_uid(sock)\n    if uid is None:\n        return None\n    return is_my_uid(uid)",
     "    return True",
     "test_another_local_user_is_refused_even_with_the_secret"),
    ("head deadline off", "proxyconn.py",
     "    def arm(self, sock: socket.socket) -> None:\n        with self._changed:",
     "    def arm(self, sock: socket.socket) -> None:\n        return\n        with self._changed:",
     "test_idle_connections_neither_starve_a_client_nor_stay_open"),
    ("connection cap off", "proxyconn.py",
     "            full = self._open >= self.max_connections",
     "            full = False",
     "test_connections_beyond_the_cap_get_503_until_some_close"),
    ("framing check off", "httpframing.py",
     "    \"\"\"Why the request's head is not one the proxy can frame unambiguously, or None.\"\"\"",
     "    \"\"\"Why the request's head is not one the proxy can frame unambiguously, or None.\"\"\"\n    return None",
     "test_ambiguous_framing_is_refused_and_the_connection_closed"
     " or test_transfer_encoding_in_http_1_0_and_two_hosts_are_refused"),
    ("climb check off", "httpframing.py",
     "    DECODE_ROUNDS decodings counts as leaving.\"\"\"",
     "    DECODE_ROUNDS decodings counts as leaving.\"\"\"\n    return False",
     "test_a_path_that_climbs_out_of_api_urls_path_is_refused"),
    ("redirect rewrite off", "proxy.py",
     "        base = self.proxy.api_url\n        target = urljoin(requested, value)",
     "        return value\n        base = self.proxy.api_url\n        target = urljoin(requested, value)",
     "test_relative_redirects_to_the_api_point_at_the_proxy"),
    ("re-read per request off", "proxy.py",
     "        if self._read_number <= arrived:",
     "        if self._read_number == 0:",
     "test_a_logout_elsewhere_ends_the_session_in_the_proxy or test_a_login_as_someone_else_is_used_from_the_next_request"
     " or test_exec_notices_a_login_and_a_logout_too"),
]
only = sys.argv[1:]
survivors = 0
for name, file, old, new, tests in MUTANTS:
    if only and not any(o in name for o in only):
        continue
    copy = Path(tempfile.mkdtemp(prefix="authcli-guard-")) / "src"
    shutil.copytree(ROOT / "src", copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / "authcli" / file
    text = target.read_text()
    assert text.count(old) == 1, (name, text.count(old))
    target.write_text(text.replace(old, new))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/integration/test_proxy_hardening.py", "-k", tests],
                          cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(copy)}, timeout=900)
    shutil.rmtree(copy.parent)
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-300:]
    survivors += proc.returncode == 0
    print(f"{name:28} -> {'FAILS (good)' if proc.returncode else 'STILL PASSES'}: {last}", flush=True)
sys.exit(1 if survivors else 0)
