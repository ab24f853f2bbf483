// lamina's Node.js 20 runtime bootstrap: AWS Lambda's Node.js runtime semantics.
//
// Started by laminad as `node /var/runtime/bootstrap.js` inside an instance. Loads the
// handler named by _HANDLER (`[dir/]file.export[.nested]`, CommonJS or ES module, relative
// to LAMBDA_TASK_ROOT) once, then loops over the Lambda Runtime API: GET the next event,
// call handler(event, context[, callback]), POST the JSON result or the error.
//
// Transport: when LAMINA_RUNTIME_FD is set, an inherited, already-connected stream socket
// (one persistent HTTP/1.1 connection); otherwise TCP to AWS_LAMBDA_RUNTIME_API. The HTTP
// client is a minimal one written for this single, strictly sequential connection rather
// than `http` + an Agent: an inherited fd cannot be re-created if an Agent ever decided to
// drop its socket, and each message goes out in a single write.
//
// Errors: thrown exceptions, rejected promises, uncaught exceptions and unhandled rejections
// are sent with `Lambda-Runtime-Function-Error-Type: Unhandled`; errors passed to
// callback(err) / context.fail / context.done are `Handled` (lamina's extension).
'use strict';

const net = require('net');
const util = require('util');
const fs = require('fs');
const path = require('path');

const env = process.env;
const PREFIX = '/2018-06-01/runtime';
const NEXT_PATH = PREFIX + '/invocation/next';

// ---------------------------------------------------------------------------------------
// Logging: console.* as Lambda prints it: `<ISO time>\t<request id>\t<LEVEL>\t<message>`.
// Writes to stdout are synchronous for pipes and files on Linux, so lines are never lost
// or reordered when the instance is frozen or killed.
// ---------------------------------------------------------------------------------------
const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');
globalThis[REQUEST_ID] = undefined;

function writeLog(level, args) {
  const line = `${new Date().toISOString()}\t${globalThis[REQUEST_ID]}\t${level}\t${util.format(...args)}\n`;
  try {
    process.stdout.write(line);
  } catch (_) {
    /* stdout gone: nothing to do */
  }
}

function patchConsole() {
  console.log = (...a) => writeLog('INFO', a);
  console.info = (...a) => writeLog('INFO', a);
  console.debug = (...a) => writeLog('DEBUG', a);
  console.warn = (...a) => writeLog('WARN', a);
  console.error = (...a) => writeLog('ERROR', a);
  console.trace = (...a) => writeLog('TRACE', a);
  console.fatal = (...a) => writeLog('FATAL', a);
}

// ---------------------------------------------------------------------------------------
// Errors, shaped as Lambda's Node.js runtime shapes them.
// ---------------------------------------------------------------------------------------
function runtimeError(name) {
  const C = class extends Error {};
  Object.defineProperty(C, 'name', { value: name });
  C.prototype.name = `Runtime.${name}`;
  return C;
}
const ImportModuleError = runtimeError('ImportModuleError');
const HandlerNotFound = runtimeError('HandlerNotFound');
const MalformedHandlerName = runtimeError('MalformedHandlerName');
const UserCodeSyntaxError = runtimeError('UserCodeSyntaxError');
const UnhandledPromiseRejection = runtimeError('UnhandledPromiseRejection');
const UnmarshalError = runtimeError('UnmarshalError');
const JSONStringifyError = runtimeError('JSONStringifyError');

function wrapError(Cls, original) {
  const e = new Cls(String(original));
  if (original && typeof original.stack === 'string') e.stack = original.stack;
  return e;
}

function isErrorLike(o) {
  return (
    o &&
    typeof o.name === 'string' &&
    typeof o.message === 'string' &&
    typeof o.stack === 'string' &&
    o.name &&
    o.stack
  );
}

function toRapidResponse(error) {
  try {
    if (util.types.isNativeError(error) || isErrorLike(error)) {
      const trace = typeof error.stack === 'string' ? error.stack.split('\n') : [];
      return {
        errorType: String(error.name),
        errorMessage: String(error.message),
        trace,
        stackTrace: trace,
      };
    }
    return {
      errorType: typeof error,
      errorMessage: String(error),
      trace: [],
      stackTrace: [],
    };
  } catch (_) {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
      trace: [],
      stackTrace: [],
    };
  }
}

function toFormatted(error) {
  try {
    return (
      '\t' +
      JSON.stringify(error, (_k, v) => {
        if (v instanceof Error) {
          const ret = Object.assign({ errorType: v.name, errorMessage: v.message, code: v.code }, v);
          if (typeof v.stack === 'string') ret.stack = v.stack.split('\n');
          return ret;
        }
        return v;
      })
    );
  } catch (_) {
    return '\t' + JSON.stringify(toRapidResponse(error));
  }
}

// ---------------------------------------------------------------------------------------
// Runtime API client: minimal HTTP/1.1 over one persistent connection.
// ---------------------------------------------------------------------------------------
class Closed extends Error {}

class RuntimeClient {
  constructor() {
    const fd = env.LAMINA_RUNTIME_FD;
    if (fd) {
      this.fd = parseInt(fd, 10);
      this.hostHeader = 'lamina';
    } else {
      const api = env.AWS_LAMBDA_RUNTIME_API;
      if (!api) {
        process.stderr.write('lamina bootstrap: neither LAMINA_RUNTIME_FD nor AWS_LAMBDA_RUNTIME_API is set\n');
        process.exit(2);
      }
      const i = api.lastIndexOf(':');
      this.host = i > 0 ? api.slice(0, i).replace(/^\[|\]$/g, '') : api;
      this.port = i > 0 ? parseInt(api.slice(i + 1), 10) : 80;
      this.hostHeader = api;
    }
    this.sock = null;
    this.fdUsed = false;
    this.closing = false;
    this.chunks = [];
    this.have = 0; // bytes in this.chunks
    this.need = 0; // bytes needed before parsing again (0: try on any data)
    this.waiter = null;
  }

  _open() {
    let s;
    if (this.fd !== undefined) {
      if (this.fdUsed) throw new Closed('runtime connection closed');
      this.fdUsed = true;
      s = new net.Socket({ fd: this.fd, readable: true, writable: true });
    } else {
      s = net.connect({ host: this.host, port: this.port });
      s.setNoDelay(true);
    }
    // Events of a socket already replaced (after "Connection: close") are ignored.
    s.on('data', (chunk) => {
      if (s === this.sock) this._onData(chunk);
    });
    s.on('error', (err) => {
      if (s === this.sock) this._fail(err);
    });
    s.on('close', () => {
      if (s === this.sock) this._fail(new Closed('runtime connection closed'));
    });
    this.sock = s;
    this.chunks = [];
    this.have = 0;
    this.need = 0;
    this.closing = false;
  }

  _fail(err) {
    if (this.sock) {
      this.sock.destroy();
      this.sock = null;
    }
    const w = this.waiter;
    this.waiter = null;
    if (w) w.reject(err instanceof Closed ? err : new Closed(String(err && err.message)));
  }

  // Lets the event loop go empty while a handler runs (Lambda's "empty event loop").
  idle() {
    if (this.sock) this.sock.unref();
  }

  request(method, reqPath, body, extraHeaders) {
    return new Promise((resolve, reject) => {
      try {
        if (!this.sock || this.closing) {
          if (this.sock) this.sock.destroy();
          this.sock = null;
          this._open();
        }
      } catch (e) {
        reject(e);
        return;
      }
      this.waiter = { resolve, reject };
      this.sock.ref();
      const hdr = extraHeaders || '';
      if (body === undefined || body === null) {
        this.sock.write(`${method} ${reqPath} HTTP/1.1\r\nHost: ${this.hostHeader}\r\n${hdr}Content-Length: 0\r\n\r\n`);
      } else if (typeof body === 'string') {
        const len = Buffer.byteLength(body, 'utf8');
        this.sock.write(
          `${method} ${reqPath} HTTP/1.1\r\nHost: ${this.hostHeader}\r\n${hdr}Content-Length: ${len}\r\n\r\n${body}`,
          'utf8',
        );
      } else {
        this.sock.write(`${method} ${reqPath} HTTP/1.1\r\nHost: ${this.hostHeader}\r\n${hdr}Content-Length: ${body.length}\r\n\r\n`);
        this.sock.write(body);
      }
    });
  }

  _onData(chunk) {
    this.chunks.push(chunk);
    this.have += chunk.length;
    // Large bodies arrive in many chunks: join them once, when all are there.
    if (!this.waiter || this.have < this.need) return;
    const buf = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.have);
    const res = this._parse(buf);
    if (!res) {
      this.chunks = [buf];
      return;
    }
    const w = this.waiter;
    this.waiter = null;
    w.resolve(res);
  }

  // One complete response from buf, or null if more bytes are needed.
  _parse(buf) {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) return null;
    const lines = buf.toString('latin1', 0, end).split('\r\n');
    const status = parseInt(lines[0].split(' ', 2)[1], 10);
    const headers = {};
    for (let i = 1; i < lines.length; i++) {
      const c = lines[i].indexOf(':');
      if (c > 0) headers[lines[i].slice(0, c).trim().toLowerCase()] = lines[i].slice(c + 1).trim();
    }
    let body;
    let rest;
    const start = end + 4;
    if (/chunked/i.test(headers['transfer-encoding'] || '')) {
      const parts = [];
      let pos = start;
      for (;;) {
        const eol = buf.indexOf('\r\n', pos);
        if (eol < 0) return null;
        const size = parseInt(buf.toString('latin1', pos, eol).split(';')[0].trim() || '0', 16);
        if (size === 0) {
          // trailers up to an empty line
          let p = eol + 2;
          for (;;) {
            const e2 = buf.indexOf('\r\n', p);
            if (e2 < 0) return null;
            if (e2 === p) {
              rest = buf.subarray(e2 + 2);
              break;
            }
            p = e2 + 2;
          }
          break;
        }
        if (buf.length < eol + 2 + size + 2) return null;
        parts.push(buf.subarray(eol + 2, eol + 2 + size));
        pos = eol + 2 + size + 2;
      }
      body = Buffer.concat(parts);
    } else {
      const len = parseInt(headers['content-length'] || '0', 10) || 0;
      if (buf.length < start + len) {
        this.need = start + len;
        return null;
      }
      body = buf.subarray(start, start + len);
      rest = buf.subarray(start + len);
    }
    this.chunks = rest.length ? [rest] : [];
    this.have = rest.length;
    this.need = 0;
    if ((headers.connection || '').toLowerCase() === 'close') this.closing = true;
    return { status, headers, body };
  }
}

// ---------------------------------------------------------------------------------------
// Handler loading (Lambda's rules: extensionless, .js (CommonJS unless package.json says
// "type": "module"), .mjs, .cjs, then Node's own resolution from the task root).
// ---------------------------------------------------------------------------------------
function hasPackageJsonTypeModule(folder) {
  for (;;) {
    if (folder.endsWith('/node_modules')) return false;
    const pj = path.join(folder, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        const pkg = JSON.parse(fs.readFileSync(pj, 'utf8'));
        return !!pkg && pkg.type === 'module';
      } catch (e) {
        console.warn(`${pj} cannot be read, it will be ignored for ES module detection purposes.`, e);
        return false;
      }
    }
    if (folder === '/' || folder === '.') return false;
    folder = path.dirname(folder);
  }
}

function tryRequireFile(file, ext) {
  const p = file + (ext || '');
  return fs.existsSync(p) ? require(p) : undefined;
}

async function tryImport(file, ext) {
  const p = file + (ext || '');
  if (!fs.existsSync(p)) return undefined;
  const { pathToFileURL } = require('url');
  return import(pathToFileURL(p).href);
}

async function requireUserModule(appRoot, moduleRoot, mod) {
  const lambdaStylePath = path.resolve(appRoot, moduleRoot, mod);
  const extensionless = tryRequireFile(lambdaStylePath);
  if (extensionless) return extensionless;
  const pjModule = fs.existsSync(lambdaStylePath + '.js') && hasPackageJsonTypeModule(path.dirname(lambdaStylePath));
  if (!pjModule) {
    const loaded = tryRequireFile(lambdaStylePath, '.js');
    if (loaded) return loaded;
  }
  const loaded =
    (pjModule && (await tryImport(lambdaStylePath, '.js'))) ||
    (await tryImport(lambdaStylePath, '.mjs')) ||
    tryRequireFile(lambdaStylePath, '.cjs');
  if (loaded) return loaded;
  const nodeStylePath = require.resolve(mod, { paths: [appRoot, path.resolve(appRoot, moduleRoot)] });
  return require(nodeStylePath);
}

async function loadHandler(appRoot, fullHandler) {
  if (fullHandler.includes('..')) {
    throw new MalformedHandlerName(
      `'${fullHandler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const base = path.basename(fullHandler);
  const moduleRoot = fullHandler.substring(0, fullHandler.indexOf(base));
  const m = /^([^.]*)\.(.*)$/.exec(base);
  if (!m || !m[1] || !m[2]) throw new MalformedHandlerName('Bad handler');
  const [, mod, handlerPath] = m;
  let app;
  try {
    app = await requireUserModule(appRoot, moduleRoot, mod);
  } catch (e) {
    if (e instanceof SyntaxError) throw wrapError(UserCodeSyntaxError, e);
    if (e && (e.code === 'MODULE_NOT_FOUND' || e.code === 'ERR_MODULE_NOT_FOUND')) {
      throw wrapError(ImportModuleError, e);
    }
    throw e;
  }
  const fn = handlerPath.split('.').reduce((o, k) => o && o[k], app);
  if (!fn) throw new HandlerNotFound(`${fullHandler} is undefined or not exported`);
  if (typeof fn !== 'function') throw new HandlerNotFound(`${fullHandler} is not a function`);
  return fn;
}

// ---------------------------------------------------------------------------------------
// One invocation.
// ---------------------------------------------------------------------------------------
let current = null; // { finish(outcome) } while an invocation is in progress

function parseHeaderJson(value, name) {
  if (value === undefined || value === '') return undefined;
  try {
    return JSON.parse(value);
  } catch (e) {
    throw new UnmarshalError(`Cannot parse ${name} as json: ${e}`);
  }
}

// Resolves to { result } or { error, handled }.
function runHandler(handler, res) {
  return new Promise((resolve) => {
    let finished = false;
    const finish = (outcome) => {
      if (finished) return;
      finished = true;
      if (current && current.finish === finish) current = null;
      resolve(outcome);
    };
    current = { finish };

    const h = res.headers;
    const deadline = Number(h['lambda-runtime-deadline-ms']) || 0;
    const callback = (err, result) => {
      if (err !== undefined && err !== null) finish({ error: err, handled: true });
      else finish({ result });
    };
    let waits = true;
    let event;
    let context;
    try {
      event = JSON.parse(res.body.length ? res.body.toString('utf8') : 'null');
      context = {
        get callbackWaitsForEmptyEventLoop() {
          return waits;
        },
        set callbackWaitsForEmptyEventLoop(v) {
          waits = v;
        },
        succeed: (result) => callback(null, result),
        fail: (err) => callback(err === undefined || err === null ? 'handled' : err),
        done: callback,
        functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
        functionName: env.AWS_LAMBDA_FUNCTION_NAME,
        memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
        logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
        logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
        clientContext: parseHeaderJson(h['lambda-runtime-client-context'], 'ClientContext'),
        identity: parseHeaderJson(h['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
        invokedFunctionArn: h['lambda-runtime-invoked-function-arn'],
        awsRequestId: h['lambda-runtime-aws-request-id'],
        getRemainingTimeInMillis: () => deadline - Date.now(),
      };
    } catch (e) {
      finish({ error: e instanceof UnmarshalError ? e : wrapError(UnmarshalError, e), handled: false });
      return;
    }
    try {
      const r = handler(event, context, callback);
      if (r && typeof r.then === 'function') {
        r.then(
          (v) => finish({ result: v }),
          (e) => finish({ error: e, handled: false }),
        );
      }
    } catch (e) {
      finish({ error: e, handled: false });
    }
  });
}

function errorHeaders(handled) {
  return `Content-Type: application/json\r\nLambda-Runtime-Function-Error-Type: ${handled ? 'Handled' : 'Unhandled'}\r\n`;
}

async function postError(client, requestId, error, handled) {
  console.error('Invoke Error', toFormatted(error));
  return client.request(
    'POST',
    `${PREFIX}/invocation/${requestId}/error`,
    JSON.stringify(toRapidResponse(error)),
    errorHeaders(handled),
  );
}

// ---------------------------------------------------------------------------------------
// Main loop.
// ---------------------------------------------------------------------------------------
let client = null;
// 'init' (loading the handler), 'invoke' (a handler is running, no request in flight), or
// 'io' (talking to the Runtime API).
let phase = 'init';
let activeRequestId = null;

// An uncaught exception or unhandled rejection: report it where it belongs, then exit
// (the daemon replaces the instance), as Lambda does.
let dying = false;

function fatal(label, error, exitCode) {
  console.error(label, toFormatted(error));
  if (dying) return; // already reporting one
  dying = true;
  let p = Promise.resolve();
  if (client && phase === 'invoke' && activeRequestId) {
    p = client.request(
      'POST',
      `${PREFIX}/invocation/${activeRequestId}/error`,
      JSON.stringify(toRapidResponse(error)),
      errorHeaders(false),
    );
  } else if (client && phase === 'init') {
    p = client.request('POST', `${PREFIX}/init/error`, JSON.stringify(toRapidResponse(error)), errorHeaders(false));
  }
  phase = 'io';
  p.then(
    () => process.exit(exitCode),
    () => process.exit(exitCode),
  );
}

async function main() {
  patchConsole();
  if (!env.NODE_PATH) {
    env.NODE_PATH = [
      '/opt/nodejs/node20/node_modules',
      '/opt/nodejs/node_modules',
      '/var/runtime/node_modules',
      '/var/runtime',
      env.LAMBDA_TASK_ROOT || '/var/task',
    ].join(':');
    const Module = require('module');
    if (typeof Module._initPaths === 'function') Module._initPaths();
  }
  client = new RuntimeClient();

  process.on('uncaughtException', (error) => fatal('Uncaught Exception', error, 129));
  process.on('unhandledRejection', (reason, promise) => {
    const error = new UnhandledPromiseRejection(reason && reason.stack ? reason.stack : String(reason));
    error.reason = reason;
    error.promise = promise;
    fatal('Unhandled Promise Rejection', error, 128);
  });
  // The event loop went empty while a handler was running without having produced a
  // result (a non-async handler that never called its callback): respond null, as Lambda.
  process.on('beforeExit', () => {
    if (current) current.finish({ result: null });
  });

  let handler;
  try {
    handler = await loadHandler(env.LAMBDA_TASK_ROOT || process.cwd(), env._HANDLER || '');
  } catch (e) {
    phase = 'io';
    console.error('Uncaught Exception', toFormatted(e));
    try {
      await client.request('POST', `${PREFIX}/init/error`, JSON.stringify(toRapidResponse(e)), errorHeaders(false));
    } catch (_) {
      /* connection gone */
    }
    process.exit(129);
  }
  if (dying) return; // an uncaught error during init is being reported

  for (;;) {
    phase = 'io';
    let res;
    try {
      res = await client.request('GET', NEXT_PATH);
    } catch (e) {
      if (e instanceof Closed) process.exit(0);
      throw e;
    }
    if (res.status !== 200) {
      process.stderr.write(`lamina bootstrap: ${NEXT_PATH} returned ${res.status}: ${res.body.toString().slice(0, 200)}\n`);
      process.exit(1);
    }
    const requestId = res.headers['lambda-runtime-aws-request-id'] || '';
    activeRequestId = requestId;
    globalThis[REQUEST_ID] = requestId;
    const trace = res.headers['lambda-runtime-trace-id'];
    if (trace) env._X_AMZN_TRACE_ID = trace;
    else delete env._X_AMZN_TRACE_ID;

    client.idle();
    phase = 'invoke';
    const outcome = await runHandler(handler, res);
    if (dying) return; // fatal() is reporting this invocation; the process exits after
    phase = 'io';
    activeRequestId = null;
    try {
      if ('error' in outcome) {
        await postError(client, requestId, outcome.error, outcome.handled);
      } else {
        let body;
        try {
          body = JSON.stringify(outcome.result === undefined ? null : outcome.result);
          if (body === undefined) body = 'null'; // e.g. a function
        } catch (_) {
          body = null;
        }
        if (body === null) {
          await postError(client, requestId, new JSONStringifyError('Unable to stringify response body'), false);
        } else {
          await client.request('POST', `${PREFIX}/invocation/${requestId}/response`, body, 'Content-Type: application/json\r\n');
        }
      }
    } catch (e) {
      if (e instanceof Closed) process.exit(0);
      throw e;
    }
  }
}

main().catch((e) => {
  process.stderr.write(`lamina bootstrap: fatal: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
