"""A TCP port in front of a real server (MariaDB, Redis) that a test can break the ways networks break:

- ``stop()``: the server is gone, connections are refused (and open ones cut);
- ``freeze()``: the server hangs, connections are accepted (open ones stay open) but nothing is answered;
- ``start()`` / ``thaw()``: it is back; connections made while it was broken are cut, so clients reconnect.

``answered_within`` sends a request that must not hang on such a server.
"""

import socket
import threading
import time


class FaultyProxy:
    def __init__(self, target):
        self.target = target
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._server = None
        self._conns = []
        self._lock = threading.Lock()
        self.running = self.frozen = False

    @property
    def url_host(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._server.settimeout(0.1)
        self.running, self.frozen = True, False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        return self

    def freeze(self):
        self.frozen = True

    def thaw(self):
        self._cut_all()
        self.frozen = False

    def stop(self):
        self.running = False
        self._thread.join()
        self._server.close()
        self._cut_all()

    def _accept(self):
        while self.running:
            try:
                client, _ = self._server.accept()
            except (TimeoutError, OSError):
                continue
            with self._lock:
                self._conns.append(client)
            if self.frozen:
                continue  # accepted, never answered
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns.append(upstream)
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    def _pipe(self, src, dst):
        try:
            while data := src.recv(65536):
                while self.frozen:  # hold the bytes: the other side waits for an answer that never comes
                    if not self.running:
                        return
                    time.sleep(0.02)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                _close(s)

    def _cut_all(self):
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            _close(conn)


def _close(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def answered_within(seconds, request, *args, **kwargs):
    """``request(*args, **kwargs)`` (a test-client call) in a thread, waited for no longer than ``seconds``:
    a server that hangs must cost a request its configured timeouts, never forever."""
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("resp", request(*args, **kwargs)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert "resp" in result, f"no answer within {seconds} s"
    return result["resp"]
