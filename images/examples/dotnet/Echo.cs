// Example dotnet (C# on Mono) function: echoes its event and the Lambda context it ran with.
//
// Handlers: Example::Example.Echo::Handle takes the event as a dictionary;
// Example::Example.Echo::Text takes it as a string (the event's JSON text);
// Example::Example.Echo::Typed binds it to a class. An event with an "error" property
// makes them throw ExampleError with that message.
using System;
using System.Collections.Generic;
using Amazon.Lambda.Core;

namespace Example
{
    public class ExampleError : Exception
    {
        public ExampleError(string message) : base(message) { }
    }

    public class Order
    {
        public string Item { get; set; }
        public int Quantity { get; set; }
        public List<double> Prices { get; set; }
    }

    public class Echo
    {
        // Static and constructor code run once per instance (the init phase).
        static readonly string Instance = DateTime.UtcNow.Ticks.ToString("x");
        int invocations;

        public Echo()
        {
            // Console.WriteLine works as well, but Mono sets Console up at its first use
            // (about 5 ms of a cold start); Lambda's logger writes to stdout directly.
            LambdaLogger.Log("init: dotnet example loaded\n");
        }

        public Dictionary<string, object> Handle(Dictionary<string, object> input, ILambdaContext context)
        {
            invocations++;
            context.Logger.LogLine("handling request " + context.AwsRequestId);
            if (input != null && input.ContainsKey("error"))
                throw new ExampleError(Convert.ToString(input["error"]));
            return new Dictionary<string, object> {
                { "event", input },
                { "context", ContextFields(context) },
                { "instance", Instance },
                { "invocations", invocations },
            };
        }

        public Dictionary<string, object> Text(string input, ILambdaContext context)
        {
            invocations++;
            if (input.Contains("\"error\""))
                throw new ExampleError("text handler refused: " + input);
            return new Dictionary<string, object> {
                { "text", input },
                { "length", input.Length },
                { "context", ContextFields(context) },
            };
        }

        public object Typed(Order order, ILambdaContext context)
        {
            double total = 0;
            if (order.Prices != null)
                foreach (double p in order.Prices)
                    total += p;
            return new { order.Item, order.Quantity, Total = total * order.Quantity, RequestId = context.AwsRequestId };
        }

        static Dictionary<string, object> ContextFields(ILambdaContext context)
        {
            return new Dictionary<string, object> {
                { "functionName", context.FunctionName },
                { "functionVersion", context.FunctionVersion },
                { "invokedFunctionArn", context.InvokedFunctionArn },
                { "memoryLimitInMB", context.MemoryLimitInMB },
                { "awsRequestId", context.AwsRequestId },
                { "logGroupName", context.LogGroupName },
                { "logStreamName", context.LogStreamName },
                { "remainingTimeInMillis", (long)context.RemainingTime.TotalMilliseconds },
            };
        }
    }
}
