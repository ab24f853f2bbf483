"""Example python3.11 function: echoes its event and the Lambda context it ran with.

An event with an "error" property makes it raise ExampleError with that message.
"""

import os

# Module-level code runs once per instance (the "init" phase); handlers run per invocation.
INIT_PID = os.getpid()
invocations = 0
print("init: python example loaded")


class ExampleError(Exception):
    pass


def handler(event, context):
    global invocations
    invocations += 1
    print(f"handling request {context.aws_request_id}")
    if isinstance(event, dict) and "error" in event:
        raise ExampleError(str(event["error"]))
    return {
        "event": event,
        "context": {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining_time_in_millis": context.get_remaining_time_in_millis(),
        },
        "init_pid": INIT_PID,
        "invocations": invocations,
    }
