/* SPDX-License-Identifier: MIT */
/*
 * top: a live view of the host and of each function and version, redrawn from a
 * GetMetrics snapshot every interval. On a terminal it draws on the alternate screen
 * with the keyboard in cbreak mode (q quits); otherwise it prints plain frames.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "client.h"
#include "lamina.h"
#include "output.h"
#include "rawjson.h"

enum {
	OPT_INTERVAL = OPT_COMMAND,
	OPT_ITERATIONS,
};

#define INTERVAL_DEFAULT 1.0
/* Faster than this is a busy loop against the daemon, not a view anyone can read. */
#define INTERVAL_MIN 0.1
#define INTERVAL_MAX 86400.0

/* Alternate screen and hidden cursor; then home and clear. */
#define SCREEN_ENTER "\033[?1049h\033[?25l\033[H\033[2J"
/* Cursor shown again, back to the normal screen with what was there before. */
#define SCREEN_LEAVE "\033[?25h\033[?1049l"

/*
 * The terminal as top found it. Global because signal handlers restore it: whatever
 * ends the process (q, an error, SIGINT, SIGTERM, an exit() deep in a helper) must
 * leave the terminal as it was.
 */
static struct {
	volatile sig_atomic_t active;	/* modes changed and alternate screen entered */
	bool keyboard;			/* stdin is a terminal, in cbreak mode while active */
	struct termios saved, cbreak;
	int wake[2];			/* self-pipe: a signal wakes the loop's poll */
} term = { .wake = { -1, -1 } };

static volatile sig_atomic_t redraw_pending;

/* Async-signal-safe. */
static void write_fully(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* Async-signal-safe, and idempotent: handlers and every exit path call it. */
static void term_leave(void)
{
	int saved_errno = errno;

	if (term.active) {
		term.active = 0;
		if (term.keyboard)
			tcsetattr(STDIN_FILENO, TCSANOW, &term.saved);
		write_fully(STDOUT_FILENO, SCREEN_LEAVE, sizeof(SCREEN_LEAVE) - 1);
	}
	errno = saved_errno;
}

static void term_resume(void)
{
	if (term.keyboard)
		tcsetattr(STDIN_FILENO, TCSANOW, &term.cbreak);
	write_fully(STDOUT_FILENO, SCREEN_ENTER, sizeof(SCREEN_ENTER) - 1);
	term.active = 1;
}

static void wake_loop(void)
{
	int saved_errno = errno;

	if (term.wake[1] >= 0)
		(void)!write(term.wake[1], "", 1);
	errno = saved_errno;
}

/*
 * SIGINT, SIGTERM, SIGHUP, SIGQUIT: restore the terminal, then die of the signal, so
 * that a shell sees what ended top. This works even while a request blocks.
 */
static void on_fatal_signal(int sig)
{
	term_leave();
	signal(sig, SIG_DFL);
	raise(sig);	/* delivered as the handler returns */
}

/* Ctrl-Z: give the shell its terminal back while stopped, take it again after. */
static void on_stop_signal(int sig)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };
	sigset_t set;

	term_leave();
	signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	/* Continued. */
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
	term_resume();
	redraw_pending = 1;
	wake_loop();
}

static void on_resize(int sig)
{
	(void)sig;
	redraw_pending = 1;
	wake_loop();
}

static void term_enter(void)
{
	static const int fatal[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	struct sigaction sa = { 0 };

	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &term.saved) == 0) {
		term.cbreak = term.saved;
		/* Keys arrive one at a time, unechoed; ISIG stays, so Ctrl-C is SIGINT. */
		term.cbreak.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		term.cbreak.c_cc[VMIN] = 1;
		term.cbreak.c_cc[VTIME] = 0;
		term.keyboard = true;
	}
	if (pipe2(term.wake, O_CLOEXEC | O_NONBLOCK) < 0)
		term.wake[0] = term.wake[1] = -1;	/* resizes then wait for the next frame */

	/* Handlers before the modes change: a signal in between must find them. */
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_fatal_signal;
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		sigaction(fatal[i], &sa, NULL);
	sa.sa_handler = on_stop_signal;
	sigaction(SIGTSTP, &sa, NULL);
	/* SA_RESTART: a resize must not fail a read in the middle of a request. */
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = on_resize;
	sigaction(SIGWINCH, &sa, NULL);

	atexit(term_leave);
	term_resume();
}

static void term_size(int *cols, int *rows)
{
	struct winsize ws;

	*cols = 80;
	*rows = 24;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
		*cols = ws.ws_col;
		*rows = ws.ws_row;
	}
}

/* One frame's text. On a terminal, lines are cut to its width and stop at its height. */
struct screen {
	FILE *f;
	char *buf;
	size_t len;
	bool tty;
	int cols, rows, lines;
};

__attribute__((format(printf, 2, 3)))
static void screen_line(struct screen *s, const char *fmt, ...)
{
	_cleanup_free_ char *line = NULL;
	va_list ap;
	int n;

	if (s->tty && s->lines >= s->rows)
		return;
	va_start(ap, fmt);
	n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0)
		cli_oom();
	/* Trailing blanks of padded columns are noise in a plain frame. */
	while (n > 0 && line[n - 1] == ' ')
		line[--n] = '\0';
	/* Names the daemon sent are never escape sequences for the terminal. */
	for (char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	if (!s->tty) {
		fprintf(s->f, "%s\n", line);
	} else {
		/*
		 * Everything drawn is now printable ASCII, so bytes are columns. Lines are
		 * joined, not ended, by newlines: one after the last row would scroll.
		 */
		if (n > s->cols)
			n = s->cols;
		fprintf(s->f, "%s%.*s\033[K", s->lines ? "\r\n" : "", n, line);
	}
	s->lines++;
}

static bool has_number(const json_t *obj, const char *key)
{
	return json_is_number(json_object_get(obj, key));
}

static double number(const json_t *obj, const char *key)
{
	return json_number_value(json_object_get(obj, key));
}

enum cell_style {
	CELL_COUNT,	/* 12 */
	CELL_RATE,	/* 120.5 */
	CELL_MS,	/* 0.21, 12.3, 1500 */
	CELL_MB,	/* 9.4 */
};

static char *cell(const json_t *obj, const char *key, enum cell_style style)
{
	double v = number(obj, key);
	char *s;
	int r;

	if (!has_number(obj, key)) {
		if (!(s = strdup("-")))
			cli_oom();
		return s;
	}
	switch (style) {
	case CELL_COUNT:
		r = asprintf(&s, "%.0f", v);
		break;
	case CELL_RATE:
	case CELL_MB:
		r = asprintf(&s, "%.1f", v);
		break;
	case CELL_MS:
	default:
		r = asprintf(&s, "%.*f", v < 10 ? 2 : v < 100 ? 1 : 0, v);
		break;
	}
	if (r < 0)
		cli_oom();
	return s;
}

/* The columns of the function table: the first two are left-aligned, numbers right. */
static const struct column {
	const char *header;
	const char *key;
	enum cell_style style;
} columns[] = {
	{ "FUNCTION", "FunctionName", CELL_COUNT },
	{ "VERSION", "Version", CELL_COUNT },
	{ "INV/S", "InvocationsPerSecond", CELL_RATE },
	{ "CONC", "Concurrency", CELL_COUNT },
	{ "WARM", "WarmInstances", CELL_COUNT },
	{ "BUSY", "BusyInstances", CELL_COUNT },
	{ "P50 MS", "DurationP50Ms", CELL_MS },
	{ "P99 MS", "DurationP99Ms", CELL_MS },
	{ "MAX MB", "MaxMemoryUsedMB", CELL_MB },
	{ "ERRORS", "Errors", CELL_COUNT },
	{ "THROTTLES", "Throttles", CELL_COUNT },
	{ "COLD", "ColdStarts", CELL_COUNT },
};
#define N_COLUMNS (sizeof(columns) / sizeof(columns[0]))
#define N_TEXT_COLUMNS 2

/* Busiest first; ties by name, then version, so rows do not jump about. */
static int compare_rows(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
	double rx = number(x, "InvocationsPerSecond"), ry = number(y, "InvocationsPerSecond");
	const char *nx = output_str(x, "FunctionName"), *ny = output_str(y, "FunctionName");
	const char *vx = output_str(x, "Version"), *vy = output_str(y, "Version");
	int c;

	if (rx != ry)
		return rx > ry ? -1 : 1;
	if ((c = strcmp(nx ? nx : "", ny ? ny : "")))
		return c;
	return strcmp(vx ? vx : "", vy ? vy : "");
}

static void draw_functions(struct screen *s, const json_t *functions)
{
	size_t n = json_array_size(functions), shown = n, width[N_COLUMNS];
	_cleanup_free_ const json_t **rows = calloc(n + 1, sizeof(*rows));
	_cleanup_free_ char **cells = calloc((n + 1) * N_COLUMNS, sizeof(*cells));
	_cleanup_free_ char *line = NULL;
	size_t line_cap = 1;

	if (!rows || !cells)
		cli_oom();
	for (size_t i = 0; i < n; i++)
		rows[i] = json_array_get(functions, i);
	qsort(rows, n, sizeof(*rows), compare_rows);

	/* On a terminal, the rows that fit below the four lines above, and a "more" line. */
	if (s->tty && s->rows - s->lines - 1 < (int)n)
		shown = s->rows - s->lines - 1 > 1 ? (size_t)(s->rows - s->lines - 2) : 0;

	for (size_t c = 0; c < N_COLUMNS; c++) {
		width[c] = strlen(columns[c].header);
		for (size_t r = 0; r < shown; r++) {
			char **p = &cells[r * N_COLUMNS + c];

			if (c < N_TEXT_COLUMNS) {
				const char *v = output_str(rows[r], columns[c].key);

				*p = strdup(v && *v ? v : "-");
				if (!*p)
					cli_oom();
			} else {
				*p = cell(rows[r], columns[c].key, columns[c].style);
			}
			if (strlen(*p) > width[c])
				width[c] = strlen(*p);
		}
		line_cap += width[c] + 2;
	}
	line = malloc(line_cap);
	if (!line)
		cli_oom();

	for (size_t r = 0; r <= shown; r++) {
		size_t len = 0;

		for (size_t c = 0; c < N_COLUMNS; c++) {
			/* Row 0 is the header, the cells' row r - 1 the others. */
			const char *v = r ? cells[(r - 1) * N_COLUMNS + c] : columns[c].header;

			len += (size_t)sprintf(line + len, "%s%*s", c ? "  " : "",
					       c < N_TEXT_COLUMNS ? -(int)width[c] : (int)width[c], v);
		}
		screen_line(s, "%s", line);
	}
	if (shown < n)
		screen_line(s, "... and %zu more", n - shown);
	if (n == 0)
		screen_line(s, "(no functions)");

	for (size_t i = 0; i < shown * N_COLUMNS; i++)
		free(cells[i]);
}

static void draw_frame(const json_t *snapshot, double interval, bool tty)
{
	const json_t *host = json_object_get(snapshot, "Host");
	const char *metering = output_str(host, "Metering");
	_cleanup_free_ char *buf = NULL;
	struct screen s = { .tty = tty };
	long up = has_number(snapshot, "UptimeSeconds") ? lround(number(snapshot,
								      "UptimeSeconds")) : -1;
	char now[16] = "", uptime[48] = "-", cpu[32] = "-", mem[64] = "-", instances[64] = "-";
	time_t t = time(NULL);
	struct tm tm;
	size_t len = 0;

	s.f = open_memstream(&buf, &len);
	if (!s.f)
		cli_oom();
	if (tty) {
		term_size(&s.cols, &s.rows);
		fputs("\033[H", s.f);
	}

	gmtime_r(&t, &tm);
	strftime(now, sizeof(now), "%H:%M:%S", &tm);
	if (up >= 86400)
		snprintf(uptime, sizeof(uptime), "%ldd %02ld:%02ld:%02ld", up / 86400,
			 up / 3600 % 24, up / 60 % 60, up % 60);
	else if (up >= 0)
		snprintf(uptime, sizeof(uptime), "%02ld:%02ld:%02ld", up / 3600, up / 60 % 60,
			 up % 60);
	screen_line(&s, "lamina top  %s UTC  up %s  every %gs%s", now, uptime, interval,
		    tty && term.keyboard ? "  (q to quit)" : "");

	if (has_number(host, "CpuPercent"))
		snprintf(cpu, sizeof(cpu), "%.1f%% of %.0f", number(host, "CpuPercent"),
			 number(host, "Cpus"));
	if (has_number(host, "MemTotalMB") && has_number(host, "MemAvailableMB"))
		snprintf(mem, sizeof(mem), "%.0f/%.0f MB used",
			 number(host, "MemTotalMB") - number(host, "MemAvailableMB"),
			 number(host, "MemTotalMB"));
	if (has_number(host, "Instances"))
		snprintf(instances, sizeof(instances), "%.0f/%.0f busy",
			 number(host, "BusyInstances"), number(host, "Instances"));
	screen_line(&s, "Host  CPU %s  Memory %s  Instances %s  Metering %s%s", cpu, mem,
		    instances, metering ? metering : "-",
		    metering && !strcmp(metering, "cgroup") ? " (approximate)" : "");
	screen_line(&s, "%s", "");
	draw_functions(&s, json_object_get(snapshot, "Functions"));

	if (tty)
		fputs("\033[J", s.f);	/* what the last frame drew below this one */
	else
		fputc('\n', s.f);	/* frames apart */
	if (fclose(s.f) != 0)
		cli_oom();
	fwrite(buf, 1, len, stdout);
	fflush(stdout);
}

/*
 * GetMetrics through the client itself rather than cli_call: on the alternate screen an
 * error printed at once would vanish with it, so the terminal is restored first.
 */
static int fetch(struct cli *cli, json_t **snapshot, char **text, size_t *text_len)
{
	static const char *const envelope[] = { "id", "ok", NULL };
	_cleanup_json_ json_t *req = cli_request("GetMetrics"), *response = NULL;
	_cleanup_free_ char *line = NULL;
	size_t line_len = 0;
	json_int_t id;

	if (!cli->client && !(cli->client = client_new(cli->socket_path)))
		cli_oom();
	id = client_send(cli->client, req, NULL, NULL, 0);
	if (id < 0 || client_wait(cli->client, id, &response, text ? &line : NULL,
				  &line_len) < 0) {
		term_leave();
		fflush(stdout);
		fprintf(stderr, "lamina: %s\n", client_error(cli->client));
		return EXIT_UNREACHABLE;
	}
	if (cli_response_error_type(response)) {
		term_leave();
		return cli_response_result(response, snapshot);
	}
	if (text) {
		line_len = rawjson_drop(line, line_len, envelope);
		line[line_len] = '\0';
		*text = steal_pointer(&line);
		*text_len = line_len;
	}
	json_object_del(response, "id");
	json_object_del(response, "ok");
	*snapshot = steal_pointer(&response);
	return 0;
}

static double monotonic_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

enum wait_result { WAIT_TICK, WAIT_QUIT };

/*
 * Until the next frame is due: keys (q quits, space refreshes at once) and redraws
 * after a resize or a resume.
 */
static enum wait_result wait_for_tick(double deadline, const json_t *last, double interval,
				      bool tty)
{
	for (;;) {
		struct pollfd fds[2] = {
			{ .fd = tty && term.keyboard ? STDIN_FILENO : -1, .events = POLLIN },
			{ .fd = tty ? term.wake[0] : -1, .events = POLLIN },
		};
		double left = deadline - monotonic_now();
		int r;

		if (tty && redraw_pending) {
			redraw_pending = 0;
			draw_frame(last, interval, tty);
		}
		if (left <= 0)
			return WAIT_TICK;
		r = poll(fds, 2, (int)ceil(left * 1000));
		if (r < 0 && errno != EINTR)
			return WAIT_TICK;
		if (r <= 0)
			continue;
		if (fds[1].revents & POLLIN) {
			char drain[64];

			while (read(term.wake[0], drain, sizeof(drain)) > 0)
				;
		}
		if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			char keys[64];
			ssize_t n = read(STDIN_FILENO, keys, sizeof(keys));

			if (n <= 0 && !(n < 0 && (errno == EINTR || errno == EAGAIN))) {
				term.keyboard = false;	/* the terminal went away: no more keys */
				continue;
			}
			for (ssize_t i = 0; i < n; i++) {
				if (keys[i] == 'q' || keys[i] == 'Q')
					return WAIT_QUIT;
				if (keys[i] == ' ')
					return WAIT_TICK;
			}
		}
	}
}

static int parse_interval(const struct command *cmd, const char *value, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(value, &end);
	if (errno || end == value || *end || !isfinite(v))
		return cli_usage_error(cmd, "--interval: invalid value '%s' (expected seconds)",
				       value);
	if (v < INTERVAL_MIN || v > INTERVAL_MAX)
		return cli_usage_error(cmd, "--interval: invalid value '%s' (%g to %g seconds)",
				       value, INTERVAL_MIN, INTERVAL_MAX);
	*out = v;
	return 0;
}

static int top_run(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	static const struct option options[] = {
		CLI_COMMON_OPTIONS,
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "iterations", required_argument, NULL, OPT_ITERATIONS },
		{ 0 },
	};
	static const char *const none[] = { NULL };
	_cleanup_json_ json_t *snapshot = NULL;
	double interval = INTERVAL_DEFAULT;
	json_int_t iterations = 0;	/* 0: until q or a signal */
	bool tty;
	int opt, r;

	while ((opt = getopt_long(argc, argv, CLI_SHORT_OPTIONS, options, NULL)) != -1) {
		switch (opt) {
		case OPT_INTERVAL:
			if ((r = parse_interval(cmd, optarg, &interval)))
				return r;
			break;
		case OPT_ITERATIONS:
			if ((r = cli_parse_int(cmd, "--iterations", optarg, 1, INT_MAX, &iterations)))
				return r;
			break;
		default:
			if ((r = cli_common_option(cli, cmd, opt, argv)) != CLI_CONTINUE)
				return r;
		}
	}
	if ((r = cli_positionals(cmd, argc, argv, none, 0)))
		return r;
	tty = !cli->json && isatty(STDOUT_FILENO);

	for (json_int_t frame = 1;; frame++) {
		_cleanup_free_ char *text = NULL;
		double started = monotonic_now();
		size_t len = 0;

		json_decref(snapshot);
		snapshot = NULL;
		if ((r = fetch(cli, &snapshot, cli->json ? &text : NULL, &len)))
			return r;
		/* After the first answer: a daemon that is not there is said on a plain screen. */
		if (tty && frame == 1)
			term_enter();
		if (cli->json) {
			output_raw(text, len);
			fflush(stdout);
		} else {
			draw_frame(snapshot, interval, tty);
		}
		if (ferror(stdout)) {
			term_leave();
			fprintf(stderr, "lamina: cannot write output: %s\n", strerror(errno));
			return EXIT_FAILURE;
		}
		if (iterations && frame >= iterations) {
			/* A bounded run leaves its last frame on the normal screen, as top -n does. */
			if (tty) {
				term_leave();
				draw_frame(snapshot, interval, false);
			}
			break;
		}
		if (wait_for_tick(started + interval, snapshot, interval, tty) == WAIT_QUIT)
			break;
	}
	term_leave();
	return 0;
}

const struct command cmd_top = {
	.name = "top",
	.run = top_run,
	.usage = "top [--interval S] [--iterations N]",
	.help = "A live view of the host (CPU, memory, instances busy/total, metering mode) and\n"
		"of each function and version, busiest first: invocations per second,\n"
		"concurrency, warm and busy instances, p50/p99 duration, max memory used, and\n"
		"errors, throttles and cold starts since the daemon started. On a terminal it\n"
		"redraws in place; q quits (space refreshes now). Otherwise it prints a plain\n"
		"frame every interval.\n\n"
		"  --interval S    seconds between frames (default 1, at least 0.1)\n"
		"  --iterations N  stop after N frames (default: until q or interrupted)\n\n"
		"With --json: each GetMetrics snapshot as one line of JSON.\n",
};
