// Amazon.Lambda.Core for lamina's dotnet (Mono) runtime: the context types a handler is
// given, with the names and members of AWS's Amazon.Lambda.Core package, so that handler
// code written for Lambda compiles against this assembly unchanged (mcs -r:Amazon.Lambda.Core.dll).
using System;
using System.Collections.Generic;

[assembly: System.Reflection.AssemblyVersion("2.0.0.0")]
[assembly: System.Reflection.AssemblyTitle("Amazon.Lambda.Core (lamina)")]

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
            Console.Out.Write(message);
            Console.Out.Flush();
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
