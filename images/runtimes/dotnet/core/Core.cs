// Amazon.Lambda.Core for lamina's dotnet (Mono) runtime: the context types a handler is
// given, with the names and members of AWS's Amazon.Lambda.Core package, so that handler
// code written for Lambda compiles against this assembly unchanged (mcs -r:Amazon.Lambda.Core.dll).
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;

[assembly: System.Reflection.AssemblyVersion("2.0.0.0")]
[assembly: System.Reflection.AssemblyTitle("Amazon.Lambda.Core (lamina)")]
[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("bootstrap")]

namespace Amazon.Lambda.Core
{
    /// <summary>The context of one invocation.</summary>
    public interface ILambdaContext
    {
        string AwsRequestId { get; }
        IClientContext ClientContext { get; }
        string FunctionName { get; }
        string FunctionVersion { get; }
        ICognitoIdentity Identity { get; }
        string InvokedFunctionArn { get; }
        ILambdaLogger Logger { get; }
        string LogGroupName { get; }
        string LogStreamName { get; }
        int MemoryLimitInMB { get; }
        TimeSpan RemainingTime { get; }
    }

    /// <summary>Writes to the function's log (the instance's standard output).</summary>
    public interface ILambdaLogger
    {
        void Log(string message);
        void LogLine(string message);
    }

    public interface ICognitoIdentity
    {
        string IdentityId { get; }
        string IdentityPoolId { get; }
    }

    public interface IClientContext
    {
        IDictionary<string, string> Environment { get; }
        IClientApplication Client { get; }
        IDictionary<string, string> Custom { get; }
    }

    public interface IClientApplication
    {
        string AppPackageName { get; }
        string AppTitle { get; }
        string AppVersionCode { get; }
        string AppVersionName { get; }
        string InstallationId { get; }
    }

    /// <summary>The static logger, as Lambda's: writes to standard output.</summary>
    public static class LambdaLogger
    {
        public static void Log(string message)
        {
            StdStream.Write(1, message);
        }
    }

    /// <summary>
    /// Standard output and error by write(2), not through Console: Mono sets up all of
    /// Console (stdin, stdout, stderr, encodings) at its first use, about 5 ms of a cold
    /// start. Console's own stdout and stderr flush every write, so a handler's Console
    /// output and these lines keep their order. Also used by the bootstrap.
    /// </summary>
    internal static class StdStream
    {
        [DllImport("libc.so.6", SetLastError = true)]
        static extern unsafe IntPtr write(int fd, byte* buf, UIntPtr count);

        const int EINTR = 4;

        internal static unsafe void Write(int fd, string text)
        {
            if (string.IsNullOrEmpty(text))
                return;
            byte[] bytes = Encoding.UTF8.GetBytes(text);
            fixed (byte* p = bytes)
            {
                int off = 0;
                while (off < bytes.Length)
                {
                    long n = (long)write(fd, p + off, (UIntPtr)(bytes.Length - off));
                    if (n > 0)
                        off += (int)n;
                    else if (n < 0 && Marshal.GetLastWin32Error() == EINTR)
                        continue;
                    else
                        return; // the stream is gone: nothing to write to
                }
            }
        }
    }

    /// <summary>
    /// Accepted so that Lambda code declaring its serializer compiles; lamina's runtime has
    /// its own JSON serializer and ignores the type named.
    /// </summary>
    [AttributeUsage(AttributeTargets.Assembly | AttributeTargets.Method)]
    public sealed class LambdaSerializerAttribute : Attribute
    {
        public LambdaSerializerAttribute(Type serializerType)
        {
            SerializerType = serializerType;
        }

        public Type SerializerType { get; set; }
    }
}
