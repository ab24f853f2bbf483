// lamina's dotnet runtime: AWS Lambda's .NET runtime semantics, on Mono.
//
// Started inside an instance as `mono /var/runtime/bootstrap.exe` (AOT-compiled at build
// time when Mono can). Loads the handler named by _HANDLER once —
// `Assembly::Namespace.Class::Method`, the assembly being /var/task/Assembly.dll — then
// loops over the Runtime API: GET the next event, call the handler, POST its JSON result
// or the error ({"errorMessage", "errorType", "stackTrace"[, "cause"]}, errorType the
// exception's type name, as Lambda's .NET runtime reports it).
//
// Transport: the already-connected socket inherited as fd $LAMINA_RUNTIME_FD (read(2) and
// write(2) by P/Invoke: nothing of System.Net is loaded), else TCP to $AWS_LAMBDA_RUNTIME_API.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Reflection;
using System.Text;
using System.Threading.Tasks;
using Amazon.Lambda.Core;
using System.Runtime.InteropServices;

namespace Lamina.Runtime
{
    sealed class ClosedException : IOException
    {
        public ClosedException(string m) : base(m) { }
    }

    sealed class Response
    {
        public int Status;
        // Names lower-cased, compared ordinally: StringComparer.
        // OrdinalIgnoreCase hashes through pooled char buffers whose generic instances
        // Mono's AOT image lacks (~1 ms of JIT in the first invocation).
        public Dictionary<string, string> Headers = new Dictionary<string, string>();
        public byte[] Body;

        public string Header(string name)
        {
            string v;
            return Headers.TryGetValue(name.ToLowerInvariant(), out v) ? v : null;
        }
    }

    /// <summary>Where the HTTP bytes go: the inherited fd or a TCP connection.</summary>
    interface IConnection
    {
        int Read(byte[] buffer, int offset, int count);
        void Write(byte[] buffer, int offset, int count);
    }

    /// <summary>
    /// An inherited socket fd, by read(2) and write(2). Not a Stream: Mono's FileStream
    /// refuses sockets, and any Stream subclass (a MarshalByRefObject) costs ~3 ms of
    /// remoting wrappers at its first use.
    /// </summary>
    sealed unsafe class FdConnection : IConnection
    {
        [DllImport("libc.so.6", SetLastError = true)]
        static extern IntPtr read(int fd, byte* buf, UIntPtr count);

        [DllImport("libc.so.6", SetLastError = true)]
        static extern IntPtr write(int fd, byte* buf, UIntPtr count);

        [DllImport("libc.so.6", SetLastError = true)]
        static extern int poll(long* fds, UIntPtr nfds, int timeout);

        const int EINTR = 4, EAGAIN = 11;
        const short POLLIN = 1, POLLOUT = 4;
        readonly int fd;

        // laminad hands over a blocking socket; a non-blocking one is waited on with poll(2).
        void Wait(short events)
        {
            long pfd = (uint)fd | ((long)(ushort)events << 32); // struct pollfd {int fd; short events, revents;}
            poll(&pfd, (UIntPtr)1, -1);
        }

        public FdConnection(int fd)
        {
            this.fd = fd;
        }

        public int Read(byte[] buffer, int offset, int count)
        {
            if (count == 0)
                return 0;
            fixed (byte* p = buffer)
            {
                for (;;)
                {
                    long n = (long)read(fd, p + offset, (UIntPtr)count);
                    if (n >= 0)
                        return (int)n;
                    int errno = Marshal.GetLastWin32Error();
                    if (errno == EAGAIN)
                        Wait(POLLIN);
                    else if (errno != EINTR)
                        throw new IOException("read from the runtime API socket failed: errno " + errno);
                }
            }
        }

        public void Write(byte[] buffer, int offset, int count)
        {
            fixed (byte* p = buffer)
            {
                while (count > 0)
                {
                    long n = (long)write(fd, p + offset, (UIntPtr)count);
                    if (n < 0)
                    {
                        int errno = Marshal.GetLastWin32Error();
                        if (errno == EAGAIN)
                            Wait(POLLOUT);
                        if (errno == EINTR || errno == EAGAIN)
                            continue;
                        throw new IOException("write to the runtime API socket failed: errno " + errno);
                    }
                    offset += (int)n;
                    count -= (int)n;
                }
            }
        }
    }

    /// <summary>A TCP connection to a numeric IPv4 address (or localhost), by libc.</summary>
    sealed unsafe class TcpConnection : IConnection, IDisposable
    {
        [DllImport("libc.so.6", SetLastError = true)]
        static extern int socket(int domain, int type, int protocol);

        [DllImport("libc.so.6", SetLastError = true)]
        static extern int connect(int fd, byte* addr, uint len);

        [DllImport("libc.so.6", SetLastError = true)]
        static extern int close(int fd);

        readonly FdConnection fd;
        readonly int n;

        TcpConnection(int n)
        {
            this.n = n;
            fd = new FdConnection(n);
        }

        public static TcpConnection Connect(string host, int port)
        {
            if (host == "localhost")
                host = "127.0.0.1";
            string[] q = host.Split('.');
            if (q.Length != 4)
                throw new IOException("the runtime API address must be numeric IPv4: " + host);
            byte* sa = stackalloc byte[16];
            for (int i = 0; i < 16; i++)
                sa[i] = 0;
            sa[0] = 2; // AF_INET, little-endian sa_family
            sa[2] = (byte)(port >> 8);
            sa[3] = (byte)port;
            for (int i = 0; i < 4; i++)
                sa[4 + i] = byte.Parse(q[i], NumberStyles.None, CultureInfo.InvariantCulture);
            int s = socket(2, 1 | 0x80000, 0); // SOCK_STREAM | SOCK_CLOEXEC
            if (s < 0)
                throw new IOException("socket: errno " + Marshal.GetLastWin32Error());
            while (connect(s, sa, 16) < 0)
            {
                int errno = Marshal.GetLastWin32Error();
                if (errno != 4)
                {
                    close(s);
                    throw new IOException("connect to " + host + ":" + port + ": errno " + errno);
                }
            }
            return new TcpConnection(s);
        }

        public int Read(byte[] buffer, int offset, int count)
        {
            return fd.Read(buffer, offset, count);
        }

        public void Write(byte[] buffer, int offset, int count)
        {
            fd.Write(buffer, offset, count);
        }

        public void Dispose()
        {
            close(n);
        }
    }

    /// <summary>A minimal HTTP/1.1 client on one persistent connection.</summary>
    sealed class RuntimeApi
    {
        public const string Prefix = "/2018-06-01/runtime";
        IConnection conn;
        readonly string host;
        readonly string tcpHost;
        readonly int tcpPort;
        IDisposable tcp;
        bool closing;
        byte[] buf = new byte[65536];
        int start, end;

        RuntimeApi(IConnection conn, string host)
        {
            this.conn = conn;
            this.host = host;
        }

        RuntimeApi(string api)
        {
            int i = api.LastIndexOf(':');
            string h = i > 0 ? api.Substring(0, i) : api;
            tcpHost = h.Trim('[', ']');
            tcpPort = i > 0 ? int.Parse(api.Substring(i + 1), CultureInfo.InvariantCulture) : 80;
            host = api;
            Connect();
        }

        public static RuntimeApi FromEnvironment()
        {
            string fd = Environment.GetEnvironmentVariable("LAMINA_RUNTIME_FD");
            if (!string.IsNullOrEmpty(fd))
            {
                return new RuntimeApi(new FdConnection(int.Parse(fd, CultureInfo.InvariantCulture)), "lamina");
            }
            string api = Environment.GetEnvironmentVariable("AWS_LAMBDA_RUNTIME_API");
            if (string.IsNullOrEmpty(api))
                throw new IOException("neither LAMINA_RUNTIME_FD nor AWS_LAMBDA_RUNTIME_API is set");
            return new RuntimeApi(api);
        }

        // TCP through libc as well: System.Net would load System.dll (~4 ms at every start,
        // even when unused, for the AOT image's references).
        void Connect()
        {
            conn = TcpConnection.Connect(tcpHost, tcpPort);
            tcp = (IDisposable)conn;
            start = end = 0;
            closing = false;
        }

        public Response Request(string method, string path, byte[] body, string extraHeaders)
        {
            if (closing)
            {
                if (tcp == null)
                    throw new ClosedException("the runtime API connection was closed");
                tcp.Dispose();
                try
                {
                    Connect();
                }
                catch (Exception e)
                {
                    throw new ClosedException(e.Message);
                }
            }
            int len = body == null ? 0 : body.Length;
            string head = method + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\n" + (extraHeaders ?? "")
                + "Content-Length: " + len.ToString(CultureInfo.InvariantCulture) + "\r\n\r\n";
            byte[] h = Encoding.ASCII.GetBytes(head);
            byte[] msg = h;
            if (len > 0)
            {
                msg = new byte[h.Length + len];
                Buffer.BlockCopy(h, 0, msg, 0, h.Length);
                Buffer.BlockCopy(body, 0, msg, h.Length, len);
            }
            try
            {
                conn.Write(msg, 0, msg.Length);
            }
            catch (Exception e)
            {
                throw new ClosedException(e.Message);
            }
            return ReadResponse();
        }

        void Fill()
        {
            if (start > 0 && start == end)
                start = end = 0;
            if (end == buf.Length)
            {
                if (start > 0)
                {
                    Buffer.BlockCopy(buf, start, buf, 0, end - start);
                    end -= start;
                    start = 0;
                }
                else
                {
                    Array.Resize(ref buf, buf.Length * 2);
                }
            }
            int n;
            try
            {
                n = conn.Read(buf, end, buf.Length - end);
            }
            catch (Exception e)
            {
                throw new ClosedException(e.Message);
            }
            if (n <= 0)
                throw new ClosedException("the runtime API connection was closed");
            end += n;
        }

        int IndexOf(string pat, int from)
        {
            for (int i = from; i <= end - pat.Length; i++)
            {
                int j = 0;
                while (j < pat.Length && buf[i + j] == pat[j])
                    j++;
                if (j == pat.Length)
                    return i;
            }
            return -1;
        }

        Response ReadResponse()
        {
            for (;;)
            {
                int e;
                while ((e = IndexOf("\r\n\r\n", start)) < 0)
                {
                    if (end - start > 65536)
                        throw new IOException("runtime API response header too large");
                    Fill();
                }
                string head = Encoding.ASCII.GetString(buf, start, e - start);
                start = e + 4;
                var r = new Response();
                string[] lines = Text.Split(head, "\r\n");
                string[] parts = Text.Split(lines[0], " ");
                if (parts.Length < 2 || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out r.Status))
                    throw new ClosedException("malformed response status line: " + lines[0]);
                for (int i = 1; i < lines.Length; i++)
                {
                    int c = lines[i].IndexOf(':');
                    if (c > 0)
                        r.Headers[lines[i].Substring(0, c).Trim().ToLowerInvariant()] = lines[i].Substring(c + 1).Trim();
                }
                if (r.Status >= 100 && r.Status < 200)
                    continue;
                string te = r.Header("Transfer-Encoding");
                if (te != null && te.IndexOf("chunked", StringComparison.OrdinalIgnoreCase) >= 0)
                {
                    r.Body = ReadChunked();
                }
                else
                {
                    string cl = r.Header("Content-Length");
                    r.Body = Take(string.IsNullOrEmpty(cl) ? 0 : int.Parse(cl, CultureInfo.InvariantCulture));
                }
                string conn = r.Header("Connection");
                if (conn != null && conn.Equals("close", StringComparison.OrdinalIgnoreCase))
                    closing = true; // over TCP, reconnect; an inherited fd ends the loop
                return r;
            }
        }

        byte[] Take(int n)
        {
            if (buf.Length - start < n)
            {
                var nb = new byte[Math.Max(n, buf.Length)];
                Buffer.BlockCopy(buf, start, nb, 0, end - start);
                end -= start;
                start = 0;
                buf = nb;
            }
            while (end - start < n)
                Fill();
            var b = new byte[n];
            Buffer.BlockCopy(buf, start, b, 0, n);
            start += n;
            return b;
        }

        string Line()
        {
            int e;
            while ((e = IndexOf("\r\n", start)) < 0)
                Fill();
            string s = Encoding.ASCII.GetString(buf, start, e - start);
            start = e + 2;
            return s;
        }

        byte[] ReadChunked()
        {
            var o = new MemoryStream();
            for (;;)
            {
                string sz = Line();
                int semi = sz.IndexOf(';');
                int size = int.Parse((semi >= 0 ? sz.Substring(0, semi) : sz).Trim(), NumberStyles.HexNumber,
                    CultureInfo.InvariantCulture);
                if (size == 0)
                {
                    while (Line().Length > 0) { }
                    return o.ToArray();
                }
                byte[] chunk = Take(size);
                o.Write(chunk, 0, chunk.Length);
                if (Line().Length != 0)
                    throw new IOException("malformed chunk");
            }
        }
    }

    /// <summary>An error in the handler's name or shape: Lambda's Runtime.* errors.</summary>
    sealed class FaultException : Exception
    {
        public readonly string Type;

        public FaultException(string type, string message) : base(message)
        {
            Type = type;
        }
    }

    /// <summary>
    /// The handler: a public method, static or not (then one instance is made, with the
    /// class's constructor without parameters), taking (), (T), (T, ILambdaContext) or
    /// (ILambdaContext), T being Stream, string or anything Json.Convert_ maps the event
    /// to; returning void, a value, Stream, Task or Task&lt;T&gt;.
    /// </summary>
    sealed class Handler
    {
        readonly object target;
        readonly MethodInfo method;
        readonly Type input;
        readonly bool withContext;

        Handler(object target, MethodInfo method, Type input, bool withContext)
        {
            this.target = target;
            this.method = method;
            this.input = input;
            this.withContext = withContext;
        }

        public static Handler Load(string name)
        {
            string[] parts = Text.Split(name ?? "", "::");
            if (parts.Length != 3 || parts[0].Length == 0 || parts[1].Length == 0 || parts[2].Length == 0)
                throw new FaultException("Runtime.MalformedHandlerName",
                    "Bad handler '" + name + "': expected Assembly::Namespace.Class::Method");
            string root = Environment.GetEnvironmentVariable("LAMBDA_TASK_ROOT") ?? "/var/task";
            // No File.Exists first: it would load libmono-native (and Kerberos with it).
            string file = root + "/" + parts[0] + ".dll";
            Assembly asm;
            try
            {
                try
                {
                    asm = Assembly.LoadFrom(file);
                }
                catch (FileNotFoundException)
                {
                    file = root + "/" + parts[0] + ".exe";
                    asm = Assembly.LoadFrom(file);
                }
            }
            catch (FileNotFoundException)
            {
                throw new FaultException("Runtime.ImportModuleError",
                    "Could not find the specified handler assembly with the file name '" + parts[0] + "'");
            }
            catch (BadImageFormatException e)
            {
                throw new FaultException("Runtime.ImportModuleError", "Unable to load assembly " + file + ": " + e.Message);
            }
            Type type = asm.GetType(parts[1], false);
            if (type == null)
                throw new FaultException("Runtime.HandlerNotFound",
                    "Unable to find type '" + parts[1] + "' in assembly " + parts[0]);
            MethodInfo best = null;
            int bestRank = int.MaxValue;
            foreach (MethodInfo m in type.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.Instance))
            {
                if (m.Name != parts[2] || m.IsGenericMethodDefinition)
                    continue;
                ParameterInfo[] p = m.GetParameters();
                int rank = p.Length == 2 && p[1].ParameterType == typeof(ILambdaContext) ? 0
                    : p.Length == 1 ? 1 : p.Length == 0 ? 2 : -1;
                if (rank >= 0 && rank < bestRank)
                {
                    best = m;
                    bestRank = rank;
                }
            }
            if (best == null)
                throw new FaultException("Runtime.HandlerNotFound", "Unable to find method '" + parts[2]
                    + "' with a supported signature in type '" + parts[1] + "'");
            object target = null;
            if (!best.IsStatic)
            {
                try
                {
                    target = Activator.CreateInstance(type);
                }
                catch (MissingMethodException)
                {
                    throw new FaultException("Runtime.HandlerNotFound", "Type '" + parts[1]
                        + "' has no public constructor without parameters (needed for the instance method "
                        + parts[2] + ")");
                }
            }
            ParameterInfo[] ps = best.GetParameters();
            bool ctx = ps.Length >= 1 && ps[ps.Length - 1].ParameterType == typeof(ILambdaContext);
            Type inType = ps.Length - (ctx ? 1 : 0) == 1 ? ps[0].ParameterType : null;
            return new Handler(target, best, inType, ctx);
        }

        public sealed class UnmarshalException : Exception
        {
            public UnmarshalException(string m) : base(m) { }
        }

        public sealed class MarshalException : Exception
        {
            public MarshalException(string m) : base(m) { }
        }

        static readonly byte[] Null = Encoding.ASCII.GetBytes("null");

        public byte[] Invoke(byte[] body, ILambdaContext context)
        {
            object[] args;
            object value = null;
            if (input != null)
            {
                if (input == typeof(Stream) || input == typeof(MemoryStream))
                {
                    value = new MemoryStream(body, false);
                }
                else
                {
                    string text = Encoding.UTF8.GetString(body);
                    try
                    {
                        value = Json.Convert_(text.Length == 0 ? null : Json.Parse(text), input, "$");
                    }
                    catch (JsonException e)
                    {
                        throw new UnmarshalException("Unable to unmarshal input: " + e.Message);
                    }
                }
                args = withContext ? new[] { value, context } : new[] { value };
            }
            else
            {
                args = withContext ? new object[] { context } : new object[0];
            }
            // The handler's exception comes out wrapped (TargetInvocationException,
            // AggregateException): rethrowing the inner one would reset its stack trace, so
            // the caller unwraps it.
            object result = method.Invoke(target, args);
            var task = result as Task;
            if (task != null)
            {
                task.Wait();
                Type tt = task.GetType();
                PropertyInfo rp = tt.IsGenericType ? tt.GetProperty("Result") : null;
                if (rp == null || rp.PropertyType.Name == "VoidTaskResult")
                    return Null;
                result = rp.GetValue(task, null);
            }
            else if (method.ReturnType == typeof(void))
            {
                return Null;
            }
            var stream = result as Stream;
            if (stream != null)
            {
                var ms = new MemoryStream();
                stream.CopyTo(ms);
                return ms.ToArray();
            }
            try
            {
                return Encoding.UTF8.GetBytes(Json.Write(result));
            }
            catch (JsonException e)
            {
                throw new MarshalException("Unable to marshal response: " + e.Message);
            }
        }
    }

    sealed class LambdaContext : ILambdaContext, ILambdaLogger, ICognitoIdentity, IClientContext, IClientApplication
    {
        static readonly string FnName = Environment.GetEnvironmentVariable("AWS_LAMBDA_FUNCTION_NAME");
        static readonly string FnVersion = Environment.GetEnvironmentVariable("AWS_LAMBDA_FUNCTION_VERSION");
        static readonly string LogGroup = Environment.GetEnvironmentVariable("AWS_LAMBDA_LOG_GROUP_NAME");
        static readonly string LogStream = Environment.GetEnvironmentVariable("AWS_LAMBDA_LOG_STREAM_NAME");
        static readonly int Memory = ParseMemory();

        static int ParseMemory()
        {
            int m;
            return int.TryParse(Environment.GetEnvironmentVariable("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
                NumberStyles.None, CultureInfo.InvariantCulture, out m) ? m : 128;
        }

        readonly string requestId, arn;
        readonly long deadline;
        readonly Dictionary<string, object> identity, clientContext, client;

        public LambdaContext(string requestId, long deadline, string arn, string clientContext, string identity)
        {
            this.requestId = requestId;
            this.deadline = deadline;
            this.arn = arn;
            this.identity = string.IsNullOrEmpty(identity) ? null : Json.Parse(identity) as Dictionary<string, object>;
            this.clientContext = string.IsNullOrEmpty(clientContext) ? null
                : Json.Parse(clientContext) as Dictionary<string, object>;
            object c = null;
            if (this.clientContext != null)
                this.clientContext.TryGetValue("client", out c);
            client = c as Dictionary<string, object>;
        }

        static readonly DateTime Epoch = new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc);

        public string AwsRequestId { get { return requestId; } }
        public IClientContext ClientContext { get { return clientContext == null ? null : this; } }
        public string FunctionName { get { return FnName; } }
        public string FunctionVersion { get { return FnVersion; } }
        public ICognitoIdentity Identity { get { return identity == null ? null : this; } }
        public string InvokedFunctionArn { get { return arn; } }
        public ILambdaLogger Logger { get { return this; } }
        public string LogGroupName { get { return LogGroup; } }
        public string LogStreamName { get { return LogStream; } }
        public int MemoryLimitInMB { get { return Memory; } }

        public TimeSpan RemainingTime
        {
            get
            {
                long now = (long)(DateTime.UtcNow - Epoch).TotalMilliseconds;
                return TimeSpan.FromMilliseconds(Math.Max(0, deadline - now));
            }
        }

        public void Log(string message)
        {
            LambdaLogger.Log(message);
        }

        public void LogLine(string message)
        {
            LambdaLogger.Log(message + "\n");
        }

        static string Str(Dictionary<string, object> d, string k)
        {
            object v;
            return d != null && d.TryGetValue(k, out v) && v != null ? Convert.ToString(v, CultureInfo.InvariantCulture) : null;
        }

        static IDictionary<string, string> Strings(Dictionary<string, object> d, string k)
        {
            object v;
            var m = d != null && d.TryGetValue(k, out v) ? v as Dictionary<string, object> : null;
            if (m == null)
                return null;
            var o = new Dictionary<string, string>();
            foreach (var e in m)
                o[e.Key] = e.Value == null ? null : Convert.ToString(e.Value, CultureInfo.InvariantCulture);
            return o;
        }

        string ICognitoIdentity.IdentityId { get { return Str(identity, "cognitoIdentityId"); } }
        string ICognitoIdentity.IdentityPoolId { get { return Str(identity, "cognitoIdentityPoolId"); } }
        IDictionary<string, string> IClientContext.Environment { get { return Strings(clientContext, "env"); } }
        IClientApplication IClientContext.Client { get { return client == null ? null : this; } }
        IDictionary<string, string> IClientContext.Custom { get { return Strings(clientContext, "custom"); } }
        string IClientApplication.AppPackageName { get { return Str(client, "app_package_name"); } }
        string IClientApplication.AppTitle { get { return Str(client, "app_title"); } }
        string IClientApplication.AppVersionCode { get { return Str(client, "app_version_code"); } }
        string IClientApplication.AppVersionName { get { return Str(client, "app_version_name"); } }
        string IClientApplication.InstallationId { get { return Str(client, "installation_id"); } }
    }

    static class Text
    {
        /// <summary>
        /// string.Split without its pooled int buffers: their generic instances are not in
        /// Mono's AOT images, and JIT-compiling them costs ~0.5 ms at every cold start.
        /// </summary>
        public static string[] Split(string s, string separator)
        {
            var parts = new List<string>();
            int start = 0, i;
            while ((i = s.IndexOf(separator, start, StringComparison.Ordinal)) >= 0)
            {
                parts.Add(s.Substring(start, i - start));
                start = i + separator.Length;
            }
            parts.Add(s.Substring(start));
            return parts.ToArray();
        }
    }

    static class Bootstrap
    {
        const string JsonHeader = "Content-Type: application/json\r\n";
        static bool traceSet;

        // byte* rather than string: no string-marshalling wrappers to JIT-compile.
        [DllImport("libc.so.6")]
        static extern unsafe int setenv(byte* name, byte* value, int overwrite);

        [DllImport("libc.so.6")]
        static extern unsafe int unsetenv(byte* name);

        static readonly byte[] TraceVar = Encoding.ASCII.GetBytes("_X_AMZN_TRACE_ID\0");

        static unsafe void SetTraceId(string value)
        {
            fixed (byte* name = TraceVar)
            {
                if (value == null)
                {
                    unsetenv(name);
                    return;
                }
                byte[] v = new byte[Encoding.UTF8.GetByteCount(value) + 1]; // NUL-terminated
                Encoding.UTF8.GetBytes(value, 0, value.Length, v, 0);
                fixed (byte* p = v)
                    setenv(name, p, 1);
            }
        }

        static int Main(string[] args)
        {
            RuntimeApi api;
            try
            {
                api = RuntimeApi.FromEnvironment();
            }
            catch (Exception e)
            {
                StdStream.Write(2, "lamina bootstrap: " + e.Message + "\n");
                return 2;
            }
            string root = Environment.GetEnvironmentVariable("LAMBDA_TASK_ROOT") ?? "/var/task";
            AppDomain.CurrentDomain.AssemblyResolve += (sender, e) => Resolve(root, e.Name);
            Handler handler;
            try
            {
                handler = Handler.Load(Environment.GetEnvironmentVariable("_HANDLER"));
            }
            catch (Exception e)
            {
                var fault = e as FaultException;
                var err = fault != null ? Error(fault.Type, fault.Message) : Error(Unwrap(e));
                LogError(err);
                try
                {
                    PostError(api, RuntimeApi.Prefix + "/init/error", err, "Unhandled");
                }
                catch (IOException)
                {
                }
                return 1;
            }
            string next = RuntimeApi.Prefix + "/invocation/next";
            for (;;)
            {
                Response r;
                try
                {
                    r = api.Request("GET", next, null, null);
                    if (r.Status != 200)
                    {
                        StdStream.Write(2, "lamina bootstrap: " + next + " returned " + r.Status + "\n");
                        return 1;
                    }
                    Invoke(api, handler, r);
                }
                catch (ClosedException)
                {
                    break;
                }
            }
            // The daemon is done with this instance; as on Lambda, no orderly shutdown.
            Environment.Exit(0);
            return 0;
        }

        static Assembly Resolve(string root, string fullName)
        {
            string name = new AssemblyName(fullName).Name;
            foreach (string dir in new[] { root, "/opt/dotnet", "/opt" })
            {
                foreach (string ext in new[] { ".dll", ".exe" })
                {
                    string f = Path.Combine(dir, name + ext);
                    if (File.Exists(f))
                        return Assembly.LoadFrom(f);
                }
            }
            return null;
        }

        static Exception Unwrap(Exception e)
        {
            for (;;)
            {
                var agg = e as AggregateException;
                if (agg != null && agg.InnerExceptions.Count == 1)
                    e = agg.InnerExceptions[0];
                else if ((e is TargetInvocationException || e is TypeInitializationException) && e.InnerException != null)
                    e = e.InnerException;
                else
                    break;
            }
            return e;
        }

        static void Invoke(RuntimeApi api, Handler handler, Response r)
        {
            string requestId = r.Header("Lambda-Runtime-Aws-Request-Id") ?? "";
            string path = RuntimeApi.Prefix + "/invocation/" + requestId;
            long deadline;
            long.TryParse(r.Header("Lambda-Runtime-Deadline-Ms"), NumberStyles.None, CultureInfo.InvariantCulture, out deadline);
            string trace = r.Header("Lambda-Runtime-Trace-Id");
            // By libc (Mono's Environment reads the process's environment): Mono's
            // Environment.SetEnvironmentVariable initialises its registry and path classes,
            // ~1 ms of JIT in the first invocation, at the function's CPU share.
            if (trace != null || traceSet)
                SetTraceId(trace);
            traceSet = trace != null;
            byte[] output;
            try
            {
                var ctx = new LambdaContext(requestId, deadline, r.Header("Lambda-Runtime-Invoked-Function-Arn"),
                    r.Header("Lambda-Runtime-Client-Context"), r.Header("Lambda-Runtime-Cognito-Identity"));
                output = handler.Invoke(r.Body, ctx);
            }
            catch (ClosedException)
            {
                throw;
            }
            catch (Exception e)
            {
                Dictionary<string, object> err;
                if (e is Handler.UnmarshalException || e is JsonException)
                    err = Error("Runtime.UnmarshalError", e.Message);
                else if (e is Handler.MarshalException)
                    err = Error("Runtime.MarshalError", e.Message);
                else
                    err = Error(Unwrap(e));
                LogError(err);
                PostError(api, path + "/error", err, "Unhandled");
                return;
            }
            api.Request("POST", path + "/response", output, JsonHeader);
        }

        static Dictionary<string, object> Error(string type, string message)
        {
            var d = new Dictionary<string, object>();
            d["errorMessage"] = message ?? "";
            d["errorType"] = type;
            d["stackTrace"] = new List<object>();
            return d;
        }

        static Dictionary<string, object> Error(Exception e)
        {
            var d = Error(e.GetType().Name, e.Message);
            d["stackTrace"] = Frames(e);
            if (e.InnerException != null)
            {
                var c = Error(e.InnerException.GetType().Name, e.InnerException.Message);
                c["stackTrace"] = Frames(e.InnerException);
                d["cause"] = c;
            }
            return d;
        }

        /// <summary>The exception's frames, the runtime's and reflection's dropped.</summary>
        static List<object> Frames(Exception e)
        {
            var o = new List<object>();
            string st = e.StackTrace;
            if (st == null)
                return o;
            foreach (string line in st.Split('\n'))
            {
                string l = line.Trim();
                if (l.Length == 0)
                    continue;
                if (l.StartsWith("at Lamina.Runtime.", StringComparison.Ordinal)
                    || l.StartsWith("at System.Reflection.", StringComparison.Ordinal)
                    || l.StartsWith("at (wrapper", StringComparison.Ordinal)
                    || l.StartsWith("---", StringComparison.Ordinal))
                    continue;
                o.Add(l);
            }
            return o;
        }

        static void LogError(Dictionary<string, object> err)
        {
            var b = new StringBuilder();
            b.Append(err["errorType"]).Append(": ").Append(err["errorMessage"]).Append('\n');
            foreach (object f in (List<object>)err["stackTrace"])
                b.Append("   ").Append(f).Append('\n');
            StdStream.Write(2, b.ToString());
        }

        static void PostError(RuntimeApi api, string path, Dictionary<string, object> err, string kind)
        {
            api.Request("POST", path, Encoding.UTF8.GetBytes(Json.Write(err)),
                JsonHeader + "Lambda-Runtime-Function-Error-Type: " + kind + "\r\n");
        }
    }
}
