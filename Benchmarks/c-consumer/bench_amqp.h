// What consumer.c and publisher.c share: the error exits, the clock, the stop signal and the connection set-up, so the
// two baselines connect exactly alike (the agent's frame size, heartbeats off, channel 1).
#ifndef BENCH_AMQP_H
#define BENCH_AMQP_H

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { FRAME_MAX = 131072 /* what the agent asks for */ };

/// The program's name in its error messages; each program sets it first thing in main.
static const char *bench_program = "bench";

static volatile sig_atomic_t stop_requested = 0;
static void on_signal(int signo) { (void)signo; stop_requested = 1; }

/// SIGTERM and SIGINT set stop_requested instead of killing the process.
static void stop_on_signals(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
}

static double seconds(struct timespec t) { return (double)t.tv_sec + (double)t.tv_nsec / 1e9; }

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return seconds(t);
}

static void die_reply(amqp_rpc_reply_t reply, const char *what) {
    if (reply.reply_type == AMQP_RESPONSE_NORMAL) return;
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
        fprintf(stderr, "%s: %s: %s\n", bench_program, what, amqp_error_string2(reply.library_error));
    else
        fprintf(stderr, "%s: %s: server closed the channel or connection (method 0x%08x)\n", bench_program, what,
                reply.reply.id);
    exit(1);
}

static void die_status(int status, const char *what) {
    if (status == AMQP_STATUS_OK) return;
    fprintf(stderr, "%s: %s: %s\n", bench_program, what, amqp_error_string2(status));
    exit(1);
}

/// Parses the URL, connects, logs in with the agent's frame size and heartbeats off (the runs last seconds), and opens
/// channel 1. `url_text` receives the parsed copy of the URL (amqp_parse_url keeps pointers into it): free it at the end.
static amqp_connection_state_t bench_connect(const char *url_argument, char **url_text) {
    struct amqp_connection_info url;
    amqp_default_connection_info(&url);
    *url_text = strdup(url_argument);
    die_status(amqp_parse_url(*url_text, &url), "parse AMQP URL");
    // "amqp://host/" parses as the empty vhost; the agent (and RabbitMQ's tools) mean "/" by it.
    const char *vhost = url.vhost[0] ? url.vhost : "/";
    amqp_connection_state_t conn = amqp_new_connection();
    amqp_socket_t *socket = amqp_tcp_socket_new(conn);
    if (!socket) die_status(AMQP_STATUS_NO_MEMORY, "socket");
    die_status(amqp_socket_open(socket, url.host, url.port), "connect");
    die_reply(amqp_login(conn, vhost, 0, FRAME_MAX, 0, AMQP_SASL_METHOD_PLAIN, url.user, url.password), "login");
    amqp_channel_open(conn, 1);
    die_reply(amqp_get_rpc_reply(conn), "channel.open");
    return conn;
}

#endif
