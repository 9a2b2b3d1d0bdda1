"""Database servers that misbehave on purpose, for the fault tests.

* ``SilentServer``: accepts TCP connections and never says a word (a port where something listens but no
  database answers, or a server paused before its greeting) until ``hang_up()``.
* ``FreezableProxy``: a TCP proxy in front of MariaDB. ``freeze()`` makes it a hung server: connections old
  and new are accepted but nothing is forwarded either way; ``thaw()`` delivers what was held and traffic
  flows again, as when a paused server resumes.

Both tell the test what they hold (``wait_accepted`` / ``wait_held``), so a test can know that a caller is
blocked on them instead of guessing from the clock.
"""

import socket
import threading


def _close(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def _listen():
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)  # so the accept loop notices close(); closing alone does not wake accept()
    return server


def _accepted(server, closed):
    """The next connection to ``server``, or None once ``closed`` is set."""
    while not closed.is_set():
        try:
            client, _ = server.accept()
        except TimeoutError:
            continue
        except OSError:
            return None
        client.settimeout(None)
        return client
    return None


class SilentServer:
    def __init__(self):
        self.sock = _listen()
        self.port = self.sock.getsockname()[1]
        self._closed = threading.Event()
        self._clients = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while (client := _accepted(self.sock, self._closed)) is not None:
            with self._cond:
                self._clients.append(client)
                self._cond.notify_all()

    def wait_accepted(self, count, timeout=30):
        """True once ``count`` connections were accepted (and are being ignored)."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._clients) >= count, timeout)

    def hang_up(self):
        """Close every accepted connection: whoever waits on one sees the server go away."""
        with self._cond:
            clients, self._clients = self._clients, []
        for client in clients:
            _close(client)

    def close(self):
        self._closed.set()
        self._thread.join(10)
        self.sock.close()
        self.hang_up()


class FreezableProxy:
    def __init__(self, target=("127.0.0.1", 3306)):
        self.target = target
        self._server = _listen()
        self.port = self._server.getsockname()[1]
        self._flowing = threading.Event()
        self._flowing.set()
        self._cond = threading.Condition()
        self._held = 0  # pipes holding data they may not deliver while frozen
        self._sockets = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while (client := _accepted(self._server, self._closed)) is not None:
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                _close(client)
                continue
            with self._cond:
                self._sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    def _pipe(self, src, dst):
        try:
            while data := src.recv(65536):
                if not self._flowing.is_set():
                    with self._cond:
                        self._held += 1
                        self._cond.notify_all()
                    self._flowing.wait()
                    with self._cond:
                        self._held -= 1
                if self._closed.is_set():
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _close(src)
            _close(dst)

    def freeze(self):
        self._flowing.clear()

    def thaw(self):
        self._flowing.set()

    def wait_held(self, count, timeout=30):
        """True once ``count`` transfers (a query, a ping, a server greeting) are stuck in the frozen proxy."""
        with self._cond:
            return self._cond.wait_for(lambda: self._held >= count, timeout)

    def close(self):
        self._closed.set()
        self._thread.join(10)
        self._server.close()
        self._flowing.set()
        with self._cond:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _close(sock)
