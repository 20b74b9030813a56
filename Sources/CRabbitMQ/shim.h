// C shims for rabbitmq-c (Debian librabbitmq-dev 0.11). Every symbol defined here is prefixed `tb_` and says why it
// exists; everything else is rabbitmq-c's own API, re-exported unchanged.
#ifndef TRACE_BRIDGE_CRABBITMQ_SHIM_H
#define TRACE_BRIDGE_CRABBITMQ_SHIM_H

#include <stdint.h>
#include <string.h>
#include <sys/time.h>
#include <poll.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <amqp_ssl_socket.h>

// Basic-properties flags are `(1 << n)` macros, which Swift does not import reliably: re-export them as constants.
static const amqp_flags_t TB_BASIC_CONTENT_TYPE_FLAG = AMQP_BASIC_CONTENT_TYPE_FLAG;
static const amqp_flags_t TB_BASIC_CONTENT_ENCODING_FLAG = AMQP_BASIC_CONTENT_ENCODING_FLAG;
static const amqp_flags_t TB_BASIC_HEADERS_FLAG = AMQP_BASIC_HEADERS_FLAG;
static const amqp_flags_t TB_BASIC_DELIVERY_MODE_FLAG = AMQP_BASIC_DELIVERY_MODE_FLAG;
static const amqp_flags_t TB_BASIC_PRIORITY_FLAG = AMQP_BASIC_PRIORITY_FLAG;
static const amqp_flags_t TB_BASIC_CORRELATION_ID_FLAG = AMQP_BASIC_CORRELATION_ID_FLAG;
static const amqp_flags_t TB_BASIC_REPLY_TO_FLAG = AMQP_BASIC_REPLY_TO_FLAG;
static const amqp_flags_t TB_BASIC_EXPIRATION_FLAG = AMQP_BASIC_EXPIRATION_FLAG;
static const amqp_flags_t TB_BASIC_MESSAGE_ID_FLAG = AMQP_BASIC_MESSAGE_ID_FLAG;
static const amqp_flags_t TB_BASIC_TIMESTAMP_FLAG = AMQP_BASIC_TIMESTAMP_FLAG;
static const amqp_flags_t TB_BASIC_TYPE_FLAG = AMQP_BASIC_TYPE_FLAG;
static const amqp_flags_t TB_BASIC_USER_ID_FLAG = AMQP_BASIC_USER_ID_FLAG;
static const amqp_flags_t TB_BASIC_APP_ID_FLAG = AMQP_BASIC_APP_ID_FLAG;
static const amqp_flags_t TB_BASIC_CLUSTER_ID_FLAG = AMQP_BASIC_CLUSTER_ID_FLAG;

// Method IDs are cast expressions in amqp_framing.h, which Swift does not import: re-export the ones the consume
// loop dispatches on.
static const amqp_method_number_t TB_CONNECTION_CLOSE_METHOD = AMQP_CONNECTION_CLOSE_METHOD;
static const amqp_method_number_t TB_CONNECTION_BLOCKED_METHOD = AMQP_CONNECTION_BLOCKED_METHOD;
static const amqp_method_number_t TB_CONNECTION_UNBLOCKED_METHOD = AMQP_CONNECTION_UNBLOCKED_METHOD;
static const amqp_method_number_t TB_CHANNEL_CLOSE_METHOD = AMQP_CHANNEL_CLOSE_METHOD;
static const amqp_method_number_t TB_BASIC_CANCEL_METHOD = AMQP_BASIC_CANCEL_METHOD;
static const amqp_method_number_t TB_BASIC_DELIVER_METHOD = AMQP_BASIC_DELIVER_METHOD;

static inline amqp_table_entry_t tb_string_entry(const char *key, const char *value) {
    amqp_table_entry_t entry;
    entry.key = amqp_cstring_bytes(key);
    entry.value.kind = AMQP_FIELD_KIND_UTF8;
    entry.value.value.bytes = amqp_cstring_bytes(value);
    return entry;
}

static inline amqp_table_entry_t tb_bool_entry(const char *key, int value) {
    amqp_table_entry_t entry;
    entry.key = amqp_cstring_bytes(key);
    entry.value.kind = AMQP_FIELD_KIND_BOOLEAN;
    entry.value.value.boolean = value;
    return entry;
}

static inline amqp_table_entry_t tb_i64_entry(const char *key, int64_t value) {
    amqp_table_entry_t entry;
    entry.key = amqp_cstring_bytes(key);
    entry.value.kind = AMQP_FIELD_KIND_I64;
    entry.value.value.i64 = value;
    return entry;
}

/// PLAIN login with client properties. `amqp_login_with_properties` is variadic (the SASL arguments), which Swift
/// cannot call. Announces the capabilities the agent handles: `connection.blocked` (the broker tells us it blocks
/// publishers), `consumer_cancel_notify` (basic.cancel when our queue is deleted) and
/// `authentication_failure_close` (a clear error on bad credentials instead of a dropped socket).
static inline amqp_rpc_reply_t tb_login_plain(amqp_connection_state_t state, const char *vhost, int channel_max,
                                              int frame_max, int heartbeat, const char *user, const char *password,
                                              const char *connection_name, const char *product,
                                              const char *version) {
    amqp_table_entry_t capabilities[3] = {
        tb_bool_entry("connection.blocked", 1),
        tb_bool_entry("consumer_cancel_notify", 1),
        tb_bool_entry("authentication_failure_close", 1),
    };
    amqp_table_entry_t properties[5] = {
        tb_string_entry("product", product),
        tb_string_entry("version", version),
        tb_string_entry("platform", "Swift"),
        tb_string_entry("connection_name", connection_name),
    };
    properties[4].key = amqp_cstring_bytes("capabilities");
    properties[4].value.kind = AMQP_FIELD_KIND_TABLE;
    properties[4].value.value.table.num_entries = 3;
    properties[4].value.value.table.entries = capabilities;
    amqp_table_t table = {5, properties};
    return amqp_login_with_properties(state, vhost, channel_max, frame_max, heartbeat, &table,
                                      AMQP_SASL_METHOD_PLAIN, user, password);
}

/// True when rabbitmq-c already holds received bytes or decoded frames: reading them needs no wait on the socket.
static inline int tb_has_buffered_input(amqp_connection_state_t state) {
    return amqp_frames_enqueued(state) || amqp_data_in_buffer(state);
}

/// Waits up to `timeout_ms` until the connection's socket or `wake_fd` (an eventfd) is readable; drains `wake_fd`.
/// Returns 1 when the socket is readable, 0 otherwise (woken, timed out or interrupted).
static inline int tb_wait_input(amqp_connection_state_t state, int wake_fd, int timeout_ms) {
    struct pollfd fds[2] = {{amqp_get_sockfd(state), POLLIN, 0}, {wake_fd, POLLIN, 0}};
    int ready = poll(fds, 2, timeout_ms);
    if (ready <= 0) return 0;
    if (fds[1].revents & POLLIN) {
        uint64_t value;
        (void)read(wake_fd, &value, sizeof value);
    }
    return (fds[0].revents & (POLLIN | POLLERR | POLLHUP)) != 0;
}

/// Waits up to `timeout_ms` for `wake_fd` alone (the socket may fill meanwhile); drains it.
static inline void tb_wait_wake(int wake_fd, int timeout_ms) {
    struct pollfd fd = {wake_fd, POLLIN, 0};
    if (poll(&fd, 1, timeout_ms) > 0 && (fd.revents & POLLIN)) {
        uint64_t value;
        (void)read(wake_fd, &value, sizeof value);
    }
}

/// A non-blocking eventfd for waking the AMQP thread (-1 on failure).
static inline int tb_wake_fd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

/// Wakes the thread waiting in `tb_wait_input`.
static inline void tb_wake(int wake_fd) {
    uint64_t one = 1;
    (void)write(wake_fd, &one, sizeof one);
}

/// `amqp_simple_wait_frame_noblock` with a timeout in milliseconds (a `struct timeval` is awkward from Swift).
static inline int tb_wait_frame(amqp_connection_state_t state, amqp_frame_t *frame, int timeout_ms) {
    struct timeval tv;
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    return amqp_simple_wait_frame_noblock(state, frame, &tv);
}

/// Answers a server-initiated channel.close or connection.close (the protocol requires the -ok).
static inline int tb_send_channel_close_ok(amqp_connection_state_t state, amqp_channel_t channel) {
    amqp_channel_close_ok_t ok;
    return amqp_send_method(state, channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
}

static inline int tb_send_connection_close_ok(amqp_connection_state_t state) {
    amqp_connection_close_ok_t ok;
    return amqp_send_method(state, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
}

#endif
