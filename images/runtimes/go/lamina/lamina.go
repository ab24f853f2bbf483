// Package lamina runs a Go function on lamina (and on AWS Lambda's provided runtimes):
// lamina.Start(handler) speaks the Lambda Runtime API for the process, as aws-lambda-go's
// lambda.Start does, with no dependency outside the standard library.
//
// A handler is a function of one of these shapes, TIn and TOut being types encoding/json
// can decode and encode (TIn may also be json.RawMessage or []byte for the raw event):
//
//	func()
//	func() error
//	func(TIn) error
//	func() (TOut, error)
//	func(TIn) (TOut, error)
//	func(context.Context) error
//	func(context.Context, TIn) error
//	func(context.Context) (TOut, error)
//	func(context.Context, TIn) (TOut, error)
//
// The context carries the invocation's deadline (Lambda-Runtime-Deadline-Ms) and its
// LambdaContext (FromContext): request id, invoked function ARN, identity, client context.
// FunctionName, FunctionVersion, MemoryLimitInMB, LogGroupName and LogStreamName hold the
// instance's environment.
//
// A returned error or a panic is reported with Lambda's error shape, {"errorMessage",
// "errorType", "stackTrace"}: errorType is the error's type name (as aws-lambda-go names
// it), the stack trace is the panic's. Both are Unhandled function errors, as on Lambda.
//
// Transport: the already-connected socket inherited as fd $LAMINA_RUNTIME_FD when set
// (lamina), else HTTP to $AWS_LAMBDA_RUNTIME_API (lamina and Lambda).
package lamina

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// The instance's environment, as aws-lambda-go's lambdacontext package has it.
var (
	FunctionName    = os.Getenv("AWS_LAMBDA_FUNCTION_NAME")
	FunctionVersion = os.Getenv("AWS_LAMBDA_FUNCTION_VERSION")
	LogGroupName    = os.Getenv("AWS_LAMBDA_LOG_GROUP_NAME")
	LogStreamName   = os.Getenv("AWS_LAMBDA_LOG_STREAM_NAME")
	MemoryLimitInMB = func() int {
		n, err := strconv.Atoi(os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"))
		if err != nil {
			return 128
		}
		return n
	}()
)

// CognitoIdentity is the caller's Amazon Cognito identity, when it sent one.
type CognitoIdentity struct {
	CognitoIdentityID     string `json:"cognitoIdentityId"`
	CognitoIdentityPoolID string `json:"cognitoIdentityPoolId"`
}

// ClientApplication is the mobile application of a client context.
type ClientApplication struct {
	InstallationID string `json:"installation_id"`
	AppTitle       string `json:"app_title"`
	AppVersionCode string `json:"app_version_code"`
	AppPackageName string `json:"app_package_name"`
}

// ClientContext is what the caller passed as its client context.
type ClientContext struct {
	Client ClientApplication `json:"client"`
	Env    map[string]string `json:"env"`
	Custom map[string]string `json:"custom"`
}

// LambdaContext is the invocation's context.
type LambdaContext struct {
	AwsRequestID       string
	InvokedFunctionArn string
	Identity           CognitoIdentity
	ClientContext      ClientContext
	// Deadline is when the invocation times out (also the context's deadline).
	Deadline time.Time
}

// RemainingTime is the time left before the invocation times out.
func (lc *LambdaContext) RemainingTime() time.Duration {
	d := time.Until(lc.Deadline)
	if d < 0 {
		return 0
	}
	return d
}

type contextKey struct{}

// FromContext returns the LambdaContext of the invocation ctx belongs to.
func FromContext(ctx context.Context) (*LambdaContext, bool) {
	lc, ok := ctx.Value(contextKey{}).(*LambdaContext)
	return lc, ok
}

// NewContext returns a context that carries lc (for tests of handlers).
func NewContext(parent context.Context, lc *LambdaContext) context.Context {
	return context.WithValue(parent, contextKey{}, lc)
}

// ErrorResponse is the body of an error report, Lambda's shape.
type ErrorResponse struct {
	Message    string   `json:"errorMessage"`
	Type       string   `json:"errorType"`
	StackTrace []string `json:"stackTrace"`
}

// Start runs handler over the Runtime API; it returns only if the process must exit
// (it exits itself when the API goes away: the daemon is done with the instance).
func Start(handler interface{}) {
	api, err := connect()
	if err != nil {
		fmt.Fprintf(os.Stderr, "lamina: %v\n", err)
		os.Exit(2)
	}
	h, err := wrap(handler)
	if err != nil {
		api.postError("/init/error", ErrorResponse{Message: err.Error(), Type: "Runtime.InvalidHandler", StackTrace: []string{}})
		fmt.Fprintf(os.Stderr, "lamina: %v\n", err)
		os.Exit(1)
	}
	for {
		resp, err := api.do("GET", "/invocation/next", nil, "")
		if err != nil {
			os.Exit(0)
		}
		if resp.status != 200 {
			fmt.Fprintf(os.Stderr, "lamina: /invocation/next returned %d\n", resp.status)
			os.Exit(1)
		}
		if err := api.invoke(h, resp); err != nil {
			os.Exit(0)
		}
	}
}

type handlerFunc func(ctx context.Context, payload []byte) ([]byte, error)

var (
	contextType = reflect.TypeOf((*context.Context)(nil)).Elem()
	errorType   = reflect.TypeOf((*error)(nil)).Elem()
)

// wrap checks the handler's shape once and turns it into a handlerFunc.
func wrap(handler interface{}) (handlerFunc, error) {
	if handler == nil {
		return nil, errors.New("handler is nil")
	}
	v := reflect.ValueOf(handler)
	t := v.Type()
	if t.Kind() != reflect.Func {
		return nil, fmt.Errorf("handler kind %s is not %s", t.Kind(), reflect.Func)
	}
	takesContext := t.NumIn() > 0 && t.In(0).Implements(contextType)
	if t.NumIn() > 2 || (t.NumIn() == 2 && !takesContext) {
		return nil, fmt.Errorf("handlers may take at most a context.Context and an event, not %s", t)
	}
	var in reflect.Type
	if t.NumIn() == 2 || (t.NumIn() == 1 && !takesContext) {
		in = t.In(t.NumIn() - 1)
	}
	if t.NumOut() > 2 {
		return nil, fmt.Errorf("handlers may return at most a value and an error, not %s", t)
	}
	if t.NumOut() >= 1 && !t.Out(t.NumOut()-1).Implements(errorType) && (t.NumOut() == 2) {
		return nil, fmt.Errorf("a handler's last result must be an error, not %s", t.Out(1))
	}
	returnsValue := t.NumOut() == 2 || (t.NumOut() == 1 && !t.Out(0).Implements(errorType))
	return func(ctx context.Context, payload []byte) ([]byte, error) {
		var args []reflect.Value
		if takesContext {
			args = append(args, reflect.ValueOf(ctx))
		}
		if in != nil {
			ev := reflect.New(in)
			if err := json.Unmarshal(payload, ev.Interface()); err != nil {
				return nil, unmarshalError{err}
			}
			args = append(args, ev.Elem())
		}
		out := v.Call(args)
		var err error
		if n := len(out); n > 0 && out[n-1].Type().Implements(errorType) {
			if e, ok := out[n-1].Interface().(error); ok && e != nil {
				err = e
			}
		}
		if err != nil {
			return nil, err
		}
		if !returnsValue {
			return []byte("null"), nil
		}
		b, jerr := json.Marshal(out[0].Interface())
		if jerr != nil {
			return nil, marshalError{jerr}
		}
		return b, nil
	}, nil
}

type unmarshalError struct{ err error }

func (e unmarshalError) Error() string { return "Unable to unmarshal input: " + e.err.Error() }

type marshalError struct{ err error }

func (e marshalError) Error() string { return "Unable to marshal response: " + e.err.Error() }

// errorTypeName: as aws-lambda-go names an error's type.
func errorTypeName(err error) string {
	switch err.(type) {
	case unmarshalError:
		return "Runtime.UnmarshalError"
	case marshalError:
		return "Runtime.MarshalError"
	}
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Ptr {
		return t.Elem().Name()
	}
	return t.Name()
}

// call runs the handler, turning a panic into an error with its stack.
func call(h handlerFunc, ctx context.Context, payload []byte) (out []byte, errResp *ErrorResponse) {
	defer func() {
		if p := recover(); p != nil {
			msg := fmt.Sprint(p)
			typ := reflect.TypeOf(p)
			name := "panic"
			if typ != nil {
				if typ.Kind() == reflect.Ptr {
					typ = typ.Elem()
				}
				if typ.Name() != "" {
					name = typ.Name()
				}
			}
			if e, ok := p.(error); ok {
				msg = e.Error()
			}
			errResp = &ErrorResponse{Message: msg, Type: name, StackTrace: panicStack()}
		}
	}()
	out, err := h(ctx, payload)
	if err != nil {
		return nil, &ErrorResponse{Message: err.Error(), Type: errorTypeName(err), StackTrace: []string{}}
	}
	return out, nil
}

// panicStack: the goroutine's frames from the panicking function up to the handler.
func panicStack() []string {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(4, pcs) // skip Callers, panicStack, the deferred func, gopanic
	frames := runtime.CallersFrames(pcs[:n])
	var out []string
	for {
		f, more := frames.Next()
		if strings.HasPrefix(f.Function, "lamina.local/lamina.") || strings.HasPrefix(f.Function, "reflect.") {
			if len(out) > 0 {
				break
			}
		} else if !strings.HasPrefix(f.Function, "runtime.") {
			out = append(out, fmt.Sprintf("%s (%s:%d)", f.Function, f.File, f.Line))
		}
		if !more {
			break
		}
	}
	if out == nil {
		out = []string{}
	}
	return out
}

// ---- the Runtime API client

type response struct {
	status  int
	headers map[string]string
	body    []byte
}

type client struct {
	conn    io.ReadWriter
	closer  io.Closer
	r       *bufio.Reader
	host    string
	tcpAddr string
	closing bool
}

func connect() (*client, error) {
	if fd := os.Getenv("LAMINA_RUNTIME_FD"); fd != "" {
		n, err := strconv.Atoi(fd)
		if err != nil {
			return nil, fmt.Errorf("bad LAMINA_RUNTIME_FD %q", fd)
		}
		f := os.NewFile(uintptr(n), "runtime-api")
		if f == nil {
			return nil, fmt.Errorf("LAMINA_RUNTIME_FD %d is not open", n)
		}
		// Plain blocking read/write on the fd: no netpoller, no net.FileConn.
		return &client{conn: f, closer: f, r: bufio.NewReaderSize(f, 64<<10), host: "lamina"}, nil
	}
	api := os.Getenv("AWS_LAMBDA_RUNTIME_API")
	if api == "" {
		return nil, errors.New("neither LAMINA_RUNTIME_FD nor AWS_LAMBDA_RUNTIME_API is set")
	}
	c := &client{host: api, tcpAddr: api}
	if err := c.dial(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *client) dial() error {
	conn, err := net.Dial("tcp", c.tcpAddr)
	if err != nil {
		return err
	}
	c.conn, c.closer = conn, conn
	c.r = bufio.NewReaderSize(conn, 64<<10)
	c.closing = false
	return nil
}

const prefix = "/2018-06-01/runtime"

func (c *client) do(method, path string, body []byte, headers string) (*response, error) {
	if c.closing {
		if c.tcpAddr == "" {
			return nil, io.EOF
		}
		c.closer.Close()
		if err := c.dial(); err != nil {
			return nil, err
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s%s HTTP/1.1\r\nHost: %s\r\n%sContent-Length: %d\r\n\r\n", method, prefix, path, c.host, headers, len(body))
	b.Write(body)
	if _, err := c.conn.Write(b.Bytes()); err != nil {
		return nil, err
	}
	for {
		r, err := c.read()
		if err != nil {
			return nil, err
		}
		if r.status >= 100 && r.status < 200 {
			continue
		}
		return r, nil
	}
}

func (c *client) read() (*response, error) {
	line, err := c.r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	parts := strings.SplitN(strings.TrimRight(line, "\r\n"), " ", 3)
	if len(parts) < 2 {
		return nil, fmt.Errorf("malformed status line %q", line)
	}
	status, err := strconv.Atoi(parts[1])
	if err != nil {
		return nil, fmt.Errorf("malformed status line %q", line)
	}
	r := &response{status: status, headers: map[string]string{}}
	for {
		h, err := c.r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		h = strings.TrimRight(h, "\r\n")
		if h == "" {
			break
		}
		if i := strings.IndexByte(h, ':'); i > 0 {
			r.headers[strings.ToLower(strings.TrimSpace(h[:i]))] = strings.TrimSpace(h[i+1:])
		}
	}
	if strings.Contains(strings.ToLower(r.headers["transfer-encoding"]), "chunked") {
		var body bytes.Buffer
		for {
			sz, err := c.r.ReadString('\n')
			if err != nil {
				return nil, err
			}
			sz = strings.TrimSpace(strings.SplitN(sz, ";", 2)[0])
			n, err := strconv.ParseInt(sz, 16, 64)
			if err != nil {
				return nil, fmt.Errorf("malformed chunk size %q", sz)
			}
			if n == 0 {
				for {
					t, err := c.r.ReadString('\n')
					if err != nil {
						return nil, err
					}
					if strings.TrimRight(t, "\r\n") == "" {
						break
					}
				}
				break
			}
			if _, err := io.CopyN(&body, c.r, n); err != nil {
				return nil, err
			}
			if _, err := c.r.Discard(2); err != nil {
				return nil, err
			}
		}
		r.body = body.Bytes()
	} else if cl := r.headers["content-length"]; cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("bad Content-Length %q", cl)
		}
		r.body = make([]byte, n)
		if _, err := io.ReadFull(c.r, r.body); err != nil {
			return nil, err
		}
	}
	if strings.EqualFold(r.headers["connection"], "close") {
		c.closing = true
	}
	return r, nil
}

func (c *client) postError(path string, e ErrorResponse) error {
	b, _ := json.Marshal(e)
	_, err := c.do("POST", path, b, "Content-Type: application/json\r\nLambda-Runtime-Function-Error-Type: Unhandled\r\n")
	return err
}

// invoke runs one event; an error return means the API is gone.
func (c *client) invoke(h handlerFunc, r *response) error {
	lc := &LambdaContext{
		AwsRequestID:       r.headers["lambda-runtime-aws-request-id"],
		InvokedFunctionArn: r.headers["lambda-runtime-invoked-function-arn"],
	}
	if ms, err := strconv.ParseInt(r.headers["lambda-runtime-deadline-ms"], 10, 64); err == nil {
		lc.Deadline = time.UnixMilli(ms)
	}
	if trace := r.headers["lambda-runtime-trace-id"]; trace != "" {
		os.Setenv("_X_AMZN_TRACE_ID", trace)
	} else {
		os.Unsetenv("_X_AMZN_TRACE_ID")
	}
	base := "/invocation/" + lc.AwsRequestID
	if v := r.headers["lambda-runtime-cognito-identity"]; v != "" {
		if err := json.Unmarshal([]byte(v), &lc.Identity); err != nil {
			return c.postError(base+"/error", ErrorResponse{Message: "Unable to parse the identity: " + err.Error(), Type: "Runtime.UnmarshalError", StackTrace: []string{}})
		}
	}
	if v := r.headers["lambda-runtime-client-context"]; v != "" {
		if err := json.Unmarshal([]byte(v), &lc.ClientContext); err != nil {
			return c.postError(base+"/error", ErrorResponse{Message: "Unable to parse the client context: " + err.Error(), Type: "Runtime.UnmarshalError", StackTrace: []string{}})
		}
	}
	ctx := NewContext(context.Background(), lc)
	if !lc.Deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, lc.Deadline)
		defer cancel()
	}
	out, errResp := call(h, ctx, r.body)
	if errResp != nil {
		fmt.Fprintf(os.Stderr, "%s: %s\n", errResp.Type, errResp.Message)
		for _, f := range errResp.StackTrace {
			fmt.Fprintf(os.Stderr, "\t%s\n", f)
		}
		return c.postError(base+"/error", *errResp)
	}
	_, err := c.do("POST", base+"/response", out, "Content-Type: application/json\r\n")
	return err
}
