# gatehouse WSGI worker (PEP 3333). Shipped inside the gatehouse binary and run
# as: python3 -c LOADER gatehouse-wsgi MODULE:APP IN:OUT:SIDE[,...], the loader
# reading this source from descriptor 3. Standard library only.
#
# Each IN:OUT:SIDE is one slot (two pipes and a Unix socket for descriptors);
# one thread serves each. The protocol
# is in docs/wsgi-protocol.md: frames of a type byte and a 4-byte big-endian
# length. Everything on the hot path is done by C code of the standard library
# (struct, bytes.split, dict(zip(...)), socket.sendmsg), because Python's own
# per-request work is what limits a WSGI server.

import collections
import faulthandler
import importlib
import io
import os
import select
import signal
import socket
import struct
import sys
import threading
import traceback

HDR = struct.Struct(">BI")
SEQ = struct.Struct(">I")
REQ, BODY, BODYEND, ABORT = 0x52, 0x42, 0x45, 0x41          # R B E A
GET, HEAD, DATA, FILE, END, LOG, TRACE, READY = 0x47, 0x48, 0x44, 0x46, 0x58, 0x4C, 0x54, 0x59
#                                                G     H     D     F     X     L     T     Y
READ_CHUNK = 65536
MAX_FRAME = 1 << 20  # larger data goes in several frames


def frame(t, payload=b""):
    return HDR.pack(t, len(payload)) + payload


END_FRAME = HDR.pack(END, 0)
IOV_MAX = 512  # os.writev refuses more buffers than the system's IOV_MAX (1024)


class Errors:
    """wsgi.errors: each line goes to gatehouse's log, tagged with the worker."""

    __slots__ = ("conn", "buf")

    def __init__(self, conn):
        self.conn = conn
        self.buf = []

    def write(self, s):
        if not isinstance(s, str):
            s = str(s)
        self.buf.append(s)
        if "\n" in s:
            self.flush()
        return len(s)

    def writelines(self, lines):
        for s in lines:
            self.write(s)

    def flush(self):
        if self.buf:
            text = "".join(self.buf)
            self.buf = []
            self.conn.send_frames([frame(LOG, text.encode("utf-8", "replace"))])


class Input:
    """wsgi.input: the request body, fetched from gatehouse as the app reads it
    (a G frame asks for up to n bytes; B frames answer, E ends the body)."""

    __slots__ = ("conn", "buf", "eof")

    def __init__(self, conn):
        self.conn = conn
        self.buf = bytearray()
        self.eof = False

    def _fill(self, want):
        while not self.eof and len(self.buf) < want:
            self.conn.send_frames([HDR.pack(GET, 4) + struct.pack(">I", max(want - len(self.buf), READ_CHUNK))])
            while True:  # the answer: B or E, or A; a queued request or a late A may come first
                t, payload = self.conn.read_frame()
                if t == BODY:
                    self.buf += payload
                elif t == BODYEND:
                    self.eof = True
                elif t == ABORT:
                    if not self.conn.abort_frame(payload):
                        continue
                    raise IOError("client went away")
                elif t == REQ:
                    self.conn.queue(payload)
                    continue
                else:
                    raise IOError("unexpected frame %r" % t)
                break

    def read(self, size=-1):
        if size is None or size < 0:
            while not self.eof:
                self._fill(len(self.buf) + READ_CHUNK)
            size = len(self.buf)
        else:
            self._fill(size)
        out = bytes(self.buf[:size])
        del self.buf[:size]
        return out

    def readline(self, size=-1):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0 or self.eof or (0 <= size <= len(self.buf)):
                break
            self._fill(len(self.buf) + READ_CHUNK)
        end = i + 1 if i >= 0 else len(self.buf)
        if size is not None and 0 <= size < end:
            end = size
        out = bytes(self.buf[:end])
        del self.buf[:end]
        return out

    def readlines(self, hint=-1):
        lines, total = [], 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                return lines

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line


class FileWrapper:
    """wsgi.file_wrapper: a real file is sent by gatehouse with sendfile(2); its
    descriptor travels over the socket (SCM_RIGHTS) and no byte goes through
    Python. Anything else is iterated in blocks."""

    def __init__(self, filelike, blksize=8192):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self):
        return self

    def __next__(self):
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration

    def fileno_range(self):
        """(fd, offset, count) when the file can be sent by descriptor."""
        try:
            fd = self.filelike.fileno()
            st = os.fstat(fd)
            if not (st.st_mode & 0o170000 == 0o100000):  # S_ISREG
                return None
            offset = self.filelike.tell()
            return fd, offset, max(st.st_size - offset, 0)
        except (AttributeError, OSError, io.UnsupportedOperation):
            return None


class Conn:
    """One slot: frames arrive on one pipe and leave on another; descriptors
    for wsgi.file_wrapper go on a Unix socket beside them. Reads go through
    our own buffer, so that checking for an abort between response blocks sees
    every frame already received.

    gatehouse may write the next request (R) while this one runs, so that the
    worker goes on to it without sleeping; an R read before its turn waits in
    queued. Requests are numbered in the order their R frames arrive (seq), and
    an A frame names the request it stops."""

    def __init__(self, rfd, wfd, sfd, wid):
        self.rfile = io.FileIO(rfd, "rb")
        self.wfd = wfd
        self.side = socket.socket(fileno=sfd)
        self.poller = select.poll()
        self.poller.register(rfd, select.POLLIN)
        self.buf = bytearray()
        self.rbuf = bytearray(READ_CHUNK)
        self.rview = memoryview(self.rbuf)
        self.aborted = False
        self.wid = wid
        self.queued = collections.deque()  # (seq, payload) of requests read before their turn
        self.seq = 0  # R frames read so far
        self.current = -1  # seq of the request being served
        self.skip = set()  # seqs of queued requests withdrawn by gatehouse

    def queue(self, payload):
        self.queued.append((self.seq, payload))
        self.seq = (self.seq + 1) & 0xFFFFFFFF

    def next_request(self):
        """The next request's variables (waiting for them), or None at EOF.
        A request withdrawn before its turn is answered with X alone."""
        self.current = -1  # the last request has ended: an A for it is late
        while True:
            if self.queued or self.buf:
                # An R read early (while the last request read its body or
                # streamed, queued or still unparsed behind the last
                # request's own A) may have its A still in the pipe.
                try:
                    if self.poller.poll(0):
                        self._recv()
                except (EOFError, ConnectionError, OSError):
                    pass  # the next read reports it
            while not self.queued:
                try:
                    t, payload = self.read_frame()
                except (EOFError, ConnectionError, OSError):
                    return None
                if t == REQ:
                    self.queue(payload)
                # else: a late A, for a request that has finished
            self.absorb()  # A frames read with the R frames
            self.current, payload = self.queued.popleft()
            if self.current not in self.skip:
                return payload
            self.skip.discard(self.current)
            self.send_frames([HDR.pack(END, 0)])

    def abort_frame(self, payload):
        """Applies an A frame: whether it stops the current request. One for
        a queued request marks it to be skipped; a late one, for a request
        that has finished, is dropped."""
        if len(payload) != 4:  # not gatehouse's: stop the request rather than guess
            self.aborted = True
            return True
        seq = SEQ.unpack(payload)[0]
        if seq == self.current:
            self.aborted = True
            return True
        if any(q[0] == seq for q in self.queued):
            self.skip.add(seq)
        return False

    def _recv(self):
        n = self.rfile.readinto(self.rbuf)
        if not n:
            raise EOFError
        self.buf += self.rview[:n]

    def read_frame(self):
        while len(self.buf) < 5:
            self._recv()
        t, n = HDR.unpack_from(self.buf)
        while len(self.buf) < 5 + n:
            self._recv()
        payload = bytes(self.buf[5 : 5 + n])
        del self.buf[: 5 + n]
        return t, payload

    def send_frames(self, frames, fds=None):
        data = frames[0] if len(frames) == 1 else b"".join(frames)
        if fds:
            # The descriptor goes first, so it is there when gatehouse reads
            # the F frame.
            socket.send_fds(self.side, [b"F"], fds)
        n = os.write(self.wfd, data)
        if n < len(data):
            view = memoryview(data)
            while n < len(data):
                n += os.write(self.wfd, view[n:])

    def send_parts(self, parts, fds=None):
        """Writes frames given as a list of bytes-like pieces (headers and
        payloads), in one writev when they fit."""
        if fds:
            socket.send_fds(self.side, [b"F"], fds)
        if len(parts) > IOV_MAX:
            parts = [b"".join(parts)]
        n = os.writev(self.wfd, parts)
        total = sum(map(len, parts))
        if n < total:
            rest = memoryview(b"".join(parts))[n:]
            while rest:
                rest = rest[os.write(self.wfd, rest) :]

    def abort_pending(self):
        """Whether gatehouse asked to stop (the client went away); checked between
        the blocks of a streamed response without blocking."""
        if self.aborted:
            return True
        if self.poller.poll(0):
            self._recv()
        self.absorb()
        return self.aborted

    def absorb(self):
        """Takes the R and A frames already read whole: a queued request is
        set aside, an abort applied; anything else waits for its reader."""
        buf = self.buf
        while len(buf) >= 5 and buf[0] in (REQ, ABORT) and len(buf) >= 5 + HDR.unpack_from(buf)[1]:
            t, payload = self.read_frame()
            if t == REQ:
                self.queue(payload)
            elif self.abort_frame(payload):
                break
            buf = self.buf


BASE = {
    "wsgi.version": (1, 0),
    "wsgi.multithread": False,
    "wsgi.multiprocess": True,
    "wsgi.run_once": False,
    "wsgi.file_wrapper": FileWrapper,
    "wsgi.input_terminated": True,
}


def declared_length(headers):
    """The Content-Length the application set, or None."""
    for name, value in headers:
        if len(name) == 14 and name.lower() == "content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class Response:
    """One request's response: start_response, its write() and the frames not
    sent yet (header and payload objects side by side, for one writev)."""

    __slots__ = ("conn", "head", "sent", "parts")

    def __init__(self, conn):
        self.conn = conn
        self.head = None
        self.sent = False
        self.parts = []

    def start_response(self, status, headers, exc_info=None):
        if exc_info:
            try:
                if self.sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.head is not None:
            raise AssertionError("start_response called a second time without exc_info")
        if type(status) is not str:
            raise TypeError("status must be a str")
        self.head = (status, headers)
        return self.write

    def send_head(self):
        if self.sent:
            return
        if self.head is None:
            raise AssertionError("application returned data before calling start_response")
        status, headers = self.head
        fields = [status]
        for name, value in headers:
            fields.append(name)
            fields.append(value)
        p = "\0".join(fields).encode("latin-1")
        self.parts += (HDR.pack(HEAD, len(p)), p)
        self.sent = True

    def data(self, data):
        n = len(data)
        if n <= MAX_FRAME:
            self.parts += (HDR.pack(DATA, n), data)
            return
        view = memoryview(data)
        for i in range(0, n, MAX_FRAME):
            piece = view[i : i + MAX_FRAME]
            self.parts += (HDR.pack(DATA, len(piece)), piece)

    def flush(self):
        if self.parts:
            self.conn.send_parts(self.parts)
            self.parts = []

    def write(self, data):
        # The write() callable of start_response: sent before it returns.
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError("write() takes bytes")
        self.send_head()
        if data:
            self.data(data)
        self.flush()


def handle(conn, app, payload):
    it = iter(payload.decode("latin-1").split("\0"))
    environ = BASE.copy()
    environ.update(zip(it, it))
    environ["wsgi.url_scheme"] = environ.get("REQUEST_SCHEME", "http")
    environ["wsgi.input"] = Input(conn)
    errors = Errors(conn)
    environ["wsgi.errors"] = errors
    conn.aborted = False
    resp = Response(conn)

    result = None
    try:
        result = app(environ, resp.start_response)
        if isinstance(result, FileWrapper) and resp.head is not None:
            rng = result.fileno_range()
            if rng is not None:
                resp.send_head()
                fd, offset, count = rng
                resp.parts += (HDR.pack(FILE, 16), struct.pack(">qq", offset, count))
                conn.send_parts(resp.parts, [fd])
                resp.parts = []
                result = _exhausted(result)
        if type(result) is list or type(result) is tuple:
            # Known in advance: sent together with the head in one write.
            for data in result:
                if data:
                    resp.send_head()
                    resp.data(data)
        else:
            # PEP 3333: each block goes out before the next is asked for. Once
            # the declared Content-Length is complete there is no next block:
            # the rest (the end of the iteration, close()) is quick, and the
            # whole response leaves in one write with the end frame. That is
            # every response of a framework like Flask, whose iterable is not
            # a list.
            left = declared_length(resp.head[1]) if resp.head else None
            for data in result:
                if data:
                    resp.send_head()
                    resp.data(data)
                    if left is not None:
                        left -= len(data)
                        if left <= 0:
                            continue
                    resp.flush()
                    if conn.abort_pending():
                        break
        resp.send_head()
    except Exception:
        trace = traceback.format_exc()
        resp.parts = []
        # Before the head went out, gatehouse answers 500; after, it cuts the
        # response short. Either way the traceback reaches the log.
        conn.send_frames([frame(TRACE, trace.encode("utf-8", "replace"))])
    finally:
        try:
            if result is not None and hasattr(result, "close"):
                result.close()  # PEP 3333: always, also when the client went away
        except Exception:
            conn.send_frames([frame(TRACE, traceback.format_exc().encode("utf-8", "replace"))])
        if errors.buf:
            errors.flush()
    resp.parts.append(END_FRAME)
    conn.send_parts(resp.parts)


class _exhausted:
    """What a FileWrapper becomes once its file went by descriptor: nothing more
    to iterate, but still closable."""

    def __init__(self, wrapper):
        self.close = getattr(wrapper, "close", None) or (lambda: None)

    def __iter__(self):
        return iter(())


def serve(conn, app):
    while True:
        payload = conn.next_request()
        if payload is None:
            return
        handle(conn, app, payload)


INTERPRETER_MARK = "gatehouse-wsgi interpreter: "


def _internal(filename):
    return filename == "gatehouse-wsgi-worker" or filename.startswith("<frozen importlib") or filename == importlib.__file__


def load(spec):
    module, _, attr = spec.partition(":")
    obj = importlib.import_module(module)
    for part in (attr or "application").split("."):
        obj = getattr(obj, part)
    return obj


def set_title(title):
    """Names the process in ps and top: its name (comm, by prctl's
    PR_SET_NAME) and its command line, which would otherwise show the exec
    one-liner that started it. The command line is rewritten where the
    kernel reads it (arg_start to arg_end of /proc/self/stat), padded with
    NULs; Python has copied argv by now. Best effort: a failure leaves the
    old title."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(15, ctypes.c_char_p(b"gatehouse-wsgi"), 0, 0, 0)  # PR_SET_NAME, 15 bytes at most
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])  # fields 48 and 49 (proc(5)); the list starts at field 3
        if end <= start:
            return
        b = title.encode("utf-8", "replace")[: end - start - 1]
        ctypes.memmove(start, b + b"\0" * (end - start - len(b)), end - start)
    except Exception:
        pass


def main():
    # Run as: python3 -c LOADER gatehouse-wsgi MODULE:APP IN:OUT:SIDE[,IN:OUT:SIDE...]
    spec = sys.argv[2]
    fds = [[int(x) for x in slot.split(":")] for slot in sys.argv[3].split(",")]
    sys.argv = sys.argv[1:2]  # what the application sees: ["gatehouse-wsgi"]
    wid = os.environ.get("GATEHOUSE_WORKER", "?")
    set_title("gatehouse-wsgi worker %s: %s" % (wid, spec))
    # On SIGUSR1 (a request over its timeout) every thread's stack goes to
    # stderr, which gatehouse logs, before gatehouse replaces this worker.
    faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # gatehouse decides when workers stop
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        app = load(spec)
    except BaseException as e:
        # The traceback from the application's own code: the frames of this
        # worker and of importlib say nothing to its author.
        tb = e.__traceback__
        while tb is not None and _internal(tb.tb_frame.f_code.co_filename):
            tb = tb.tb_next
        traceback.print_exception(type(e), e, tb)
        # Which Python failed to import it, for the error gatehouse reports:
        # python3 on PATH may not be the one with the application's packages.
        print("%s%s (%s)" % (INTERPRETER_MARK, os.path.realpath(sys.executable), sys.version.split()[0]), file=sys.stderr)
        sys.stderr.flush()
        sys.exit(3)
    threaded = len(fds) > 1
    BASE["wsgi.multithread"] = threaded
    conns = [Conn(r, w, s, wid) for r, w, s in fds]
    for c in conns:
        c.send_frames([frame(READY)])
    threads = [threading.Thread(target=serve, args=(c, app), daemon=True) for c in conns[1:]]
    for t in threads:
        t.start()
    serve(conns[0], app)
    for t in threads:
        t.join()


main()
