"""Example python3.11 function that fails.

An event {"handled": true} makes the handler *return* an exception (Lambda's FunctionError
"Handled" in lamina); anything else makes it raise (FunctionError "Unhandled").
"""


class InsufficientFunds(Exception):
    pass


def _check(event):
    raise InsufficientFunds(f"balance too low for {event.get('amount', 0)}")


def handler(event, context):
    event = event if isinstance(event, dict) else {}
    if event.get("handled"):
        return ValueError("rejected: " + str(event.get("reason", "no reason")))
    _check(event)
