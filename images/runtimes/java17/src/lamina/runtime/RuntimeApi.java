package lamina.runtime;

import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Field;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * A minimal HTTP/1.1 client for the Lambda Runtime API on one persistent connection.
 *
 * <p>Transport: the already-connected stream socket inherited as fd $LAMINA_RUNTIME_FD
 * (lamina's fast path: plain read(2)/write(2) through FileInputStream/FileOutputStream,
 * so no networking class is loaded), else TCP to $AWS_LAMBDA_RUNTIME_API (host:port).
 * Java has no public way to wrap an inherited fd number, so the FileDescriptor's private
 * field is set through sun.misc.Unsafe (module jdk.unsupported; no --add-opens needed).
 */
final class RuntimeApi {
    /** The connection is gone: the daemon is done with this instance. */
    static final class Closed extends IOException {
        private static final long serialVersionUID = 1L;

        Closed(String m) {
            super(m);
        }
    }

    static final class Response {
        int status;
        final Map<String, String> headers = new HashMap<>();
        byte[] body;

        String header(String lowerName) {
            return headers.get(lowerName);
        }
    }

    static final String PREFIX = "/2018-06-01/runtime";
    private static final int MAX_HEADER = 64 << 10;

    private InputStream in;
    private OutputStream out;
    private final String host;
    private final String tcpHost;
    private final int tcpPort;
    private Socket socket;
    private boolean closing;

    private byte[] buf = new byte[65536];
    private int start; // unconsumed bytes are buf[start, end)
    private int end;

    /** Over streams already connected (the inherited fd; the build's training run). */
    RuntimeApi(InputStream in, OutputStream out, String host) {
        this.in = in;
        this.out = out;
        this.host = host;
        this.tcpHost = null;
        this.tcpPort = 0;
    }

    private RuntimeApi(String api) throws IOException {
        int i = api.lastIndexOf(':');
        String h = i > 0 ? api.substring(0, i) : api;
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        this.tcpHost = h;
        this.tcpPort = i > 0 ? Integer.parseInt(api.substring(i + 1)) : 80;
        this.host = api;
        connect();
    }

    static RuntimeApi fromEnvironment() throws IOException {
        String fd = System.getenv("LAMINA_RUNTIME_FD");
        String api = System.getenv("AWS_LAMBDA_RUNTIME_API");
        // Java cannot make a non-blocking fd blocking, and a write that meets EAGAIN loses
        // what it did not write: such an fd is used only if there is no TCP endpoint.
        if (fd != null && !fd.isEmpty() && !(nonBlocking(fd) && api != null && !api.isEmpty())) {
            FileDescriptor d = inheritedFd(Integer.parseInt(fd));
            return new RuntimeApi(new FileInputStream(d), new FileOutputStream(d), "lamina");
        }
        if (api == null || api.isEmpty()) {
            throw new IOException("neither LAMINA_RUNTIME_FD nor AWS_LAMBDA_RUNTIME_API is set");
        }
        return new RuntimeApi(api);
    }

    /** Whether the fd has O_NONBLOCK, from /proc/self/fdinfo (octal "flags:"). */
    static boolean nonBlocking(String fd) {
        // java.io only: java.nio.file's first use costs milliseconds of class initialisation.
        byte[] b = new byte[512];
        int n = 0;
        try (FileInputStream in = new FileInputStream("/proc/self/fdinfo/" + fd)) {
            int r;
            while (n < b.length && (r = in.read(b, n, b.length - n)) > 0) {
                n += r;
            }
        } catch (IOException e) {
            return false; // unknown: assume blocking, as laminad hands it over
        }
        String s = new String(b, 0, n, StandardCharsets.ISO_8859_1);
        int i = s.indexOf("flags:");
        if (i < 0) {
            return false;
        }
        int j = i + 6;
        while (j < s.length() && (s.charAt(j) == ' ' || s.charAt(j) == '\t')) {
            j++;
        }
        long flags = 0;
        while (j < s.length() && s.charAt(j) >= '0' && s.charAt(j) <= '7') {
            flags = flags * 8 + (s.charAt(j++) - '0');
        }
        return (flags & 04000) != 0;
    }

    /** A FileDescriptor for an fd number this process inherited. */
    static FileDescriptor inheritedFd(int fd) throws IOException {
        try {
            // Called directly: Method.invoke on Unsafe's methods would parse their
            // annotations, which spins a proxy class (~10 ms of every cold start).
            Field uf = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
            uf.setAccessible(true);
            sun.misc.Unsafe u = (sun.misc.Unsafe) uf.get(null);
            FileDescriptor d = new FileDescriptor();
            u.putInt(d, u.objectFieldOffset(FileDescriptor.class.getDeclaredField("fd")), fd);
            return d;
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IOException("cannot use the inherited runtime API fd " + fd + ": " + e, e);
        }
    }

    private void connect() throws IOException {
        Socket s = new Socket();
        s.setTcpNoDelay(true);
        s.connect(new InetSocketAddress(tcpHost, tcpPort));
        socket = s;
        in = s.getInputStream();
        out = s.getOutputStream();
        start = end = 0;
        closing = false;
    }

    /** One request/response exchange. */
    Response request(String method, String path, byte[] body, String extraHeaders) throws IOException {
        if (closing) {
            if (socket == null) {
                throw new Closed("the runtime API connection was closed");
            }
            try {
                socket.close();
            } catch (IOException ignored) {
                // reconnecting anyway
            }
            try {
                connect();
            } catch (IOException e) {
                throw new Closed(e.toString());
            }
        }
        int len = body == null ? 0 : body.length;
        String head = method + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\n"
                + (extraHeaders == null ? "" : extraHeaders) + "Content-Length: " + len + "\r\n\r\n";
        byte[] h = head.getBytes(StandardCharsets.ISO_8859_1);
        // One write: header and body together.
        byte[] msg = h;
        if (len > 0) {
            msg = new byte[h.length + len];
            System.arraycopy(h, 0, msg, 0, h.length);
            System.arraycopy(body, 0, msg, h.length, len);
        }
        try {
            out.write(msg);
            out.flush();
        } catch (IOException e) {
            throw new Closed(e.toString());
        }
        return readResponse();
    }

    private void fill() throws IOException {
        if (start > 0 && start == end) {
            start = end = 0;
        }
        if (end == buf.length) {
            if (start > 0) {
                System.arraycopy(buf, start, buf, 0, end - start);
                end -= start;
                start = 0;
            } else {
                byte[] nb = new byte[buf.length * 2];
                System.arraycopy(buf, 0, nb, 0, end);
                buf = nb;
            }
        }
        int n;
        for (;;) {
            try {
                n = in.read(buf, end, buf.length - end);
                break;
            } catch (IOException e) {
                // laminad hands over a blocking socket; should one come non-blocking
                // (EAGAIN: Java cannot clear O_NONBLOCK), wait for data a millisecond at
                // a time rather than take it for a closed connection.
                String m = e.getMessage();
                if (m == null || !m.contains("temporarily unavailable")) {
                    throw new Closed(e.toString());
                }
                try {
                    Thread.sleep(1);
                } catch (InterruptedException ie) {
                    throw new Closed("interrupted");
                }
            }
        }
        if (n < 0) {
            throw new Closed("the runtime API connection was closed");
        }
        end += n;
    }

    private int indexOf(byte[] pat, int from) {
        outer:
        for (int i = from; i <= end - pat.length; i++) {
            for (int j = 0; j < pat.length; j++) {
                if (buf[i + j] != pat[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    private static final byte[] CRLFCRLF = {'\r', '\n', '\r', '\n'};
    private static final byte[] CRLF = {'\r', '\n'};

    private Response readResponse() throws IOException {
        for (;;) {
            int e;
            while ((e = indexOf(CRLFCRLF, start)) < 0) {
                if (end - start > MAX_HEADER) {
                    throw new IOException("runtime API response header too large");
                }
                fill();
            }
            String head = new String(buf, start, e - start, StandardCharsets.ISO_8859_1);
            start = e + 4;
            Response r = new Response();
            String[] lines = head.split("\r\n");
            String[] parts = lines[0].split(" ", 3);
            try {
                r.status = Integer.parseInt(parts[1]);
            } catch (RuntimeException x) {
                throw new Closed("malformed response status line: " + lines[0]);
            }
            for (int i = 1; i < lines.length; i++) {
                int c = lines[i].indexOf(':');
                if (c > 0) {
                    r.headers.put(lines[i].substring(0, c).trim().toLowerCase(), lines[i].substring(c + 1).trim());
                }
            }
            if (r.status >= 100 && r.status < 200) {
                continue; // an interim response
            }
            String te = r.header("transfer-encoding");
            if (te != null && te.toLowerCase().contains("chunked")) {
                r.body = readChunked();
            } else {
                String cl = r.header("content-length");
                int n = cl == null || cl.isEmpty() ? 0 : Integer.parseInt(cl);
                r.body = take(n);
            }
            String conn = r.header("connection");
            if (conn != null && conn.equalsIgnoreCase("close")) {
                // Over TCP the next request reconnects; an inherited fd cannot be
                // re-established, so there the next request ends the loop.
                closing = true;
            }
            return r;
        }
    }

    private byte[] take(int n) throws IOException {
        if (buf.length < n) {
            byte[] nb = new byte[n];
            System.arraycopy(buf, start, nb, 0, end - start);
            end -= start;
            start = 0;
            buf = nb;
        }
        while (end - start < n) {
            if (buf.length - start < n) {
                System.arraycopy(buf, start, buf, 0, end - start);
                end -= start;
                start = 0;
            }
            fill();
        }
        byte[] b = new byte[n];
        System.arraycopy(buf, start, b, 0, n);
        start += n;
        return b;
    }

    private String line() throws IOException {
        int e;
        while ((e = indexOf(CRLF, start)) < 0) {
            fill();
        }
        String s = new String(buf, start, e - start, StandardCharsets.ISO_8859_1);
        start = e + 2;
        return s;
    }

    private byte[] readChunked() throws IOException {
        java.io.ByteArrayOutputStream o = new java.io.ByteArrayOutputStream();
        for (;;) {
            String sz = line();
            int semi = sz.indexOf(';');
            int size = Integer.parseInt((semi >= 0 ? sz.substring(0, semi) : sz).trim(), 16);
            if (size == 0) {
                while (!line().isEmpty()) {
                    // trailers
                }
                return o.toByteArray();
            }
            o.write(take(size));
            if (!line().isEmpty()) {
                throw new EOFException("malformed chunk");
            }
        }
    }
}
