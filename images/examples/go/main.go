// Example go function: echoes its event and the Lambda context it ran with.
//
// Built static with Debian's Go into a `bootstrap` and deployed with Runtime "go":
//
//	CGO_ENABLED=0 go build -o bootstrap . && lamina deploy .
//
// An event with an "error" property makes the handler return an error of type
// *ExampleError with that message; {"panic": "..."} makes it panic.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"lamina.local/lamina"
)

// ExampleError is what the handler returns for an event with an "error" property.
type ExampleError struct{ Message string }

func (e *ExampleError) Error() string { return e.Message }

// Package-level code runs once per instance (the init phase).
var (
	instance    = strconv.FormatInt(time.Now().UnixNano(), 36)
	invocations = 0
)

func init() {
	fmt.Println("init: go example loaded")
}

func handler(ctx context.Context, event map[string]interface{}) (map[string]interface{}, error) {
	invocations++
	lc, _ := lamina.FromContext(ctx)
	fmt.Printf("handling request %s\n", lc.AwsRequestID)
	if msg, ok := event["error"]; ok {
		return nil, &ExampleError{Message: fmt.Sprint(msg)}
	}
	if msg, ok := event["panic"]; ok {
		panic(fmt.Sprint(msg))
	}
	deadline, _ := ctx.Deadline()
	return map[string]interface{}{
		"event": event,
		"context": map[string]interface{}{
			"functionName":          lamina.FunctionName,
			"functionVersion":       lamina.FunctionVersion,
			"invokedFunctionArn":    lc.InvokedFunctionArn,
			"memoryLimitInMB":       lamina.MemoryLimitInMB,
			"awsRequestId":          lc.AwsRequestID,
			"logGroupName":          lamina.LogGroupName,
			"logStreamName":         lamina.LogStreamName,
			"remainingTimeInMillis": time.Until(deadline).Milliseconds(),
		},
		"instance":    instance,
		"invocations": invocations,
		"pid":         os.Getpid(),
	}, nil
}

func main() {
	lamina.Start(handler)
}
