// The baseline for Benchmarks/drain.sh: the least a consumer of trace-bridge's queue can do with librabbitmq
// (rabbitmq-c 0.11), so the agent's drain rate and CPU per message can be judged against the library and broker alone.
// Benchmarks/broker_cost.sh also uses it, as the services' consumers and as the agent queue's consumer.
//
//   consumer AMQP_URL QUEUE COUNT [--prefetch N] [--ack-every K] [--seconds S]
//
// Consumes QUEUE with the agent's settings (basic.qos prefetch 1000, manual acks), discards every body, acks with
// multiple=true once per 100 messages, and exits after COUNT messages printing one JSON line:
//   {"messages": N, "wall_s": S, "cpu_s": S}   (wall from process start, CPU = user + system of this process)
//
// Optional (drain.sh uses none of them, and then the consumer behaves exactly as before):
//   COUNT 0          no count limit: run until SIGTERM/SIGINT (or --seconds), then ack what it holds and exit cleanly
//   --prefetch N     basic.qos prefetch count (default 1000)
//   --ack-every K    ack with multiple=true once per K messages (default 100; 1 acks every message)
//   --seconds S      stop after S seconds from process start
// With COUNT 0 or --seconds, the consumer waits for deliveries at most 100 ms at a time to notice the signal or the
// deadline; the JSON line then also has "acks" (basic.ack frames sent).
//
// Build: cc -O2 consumer.c -lrabbitmq -o consumer
#include "bench_amqp.h"

#include <sys/resource.h>

static void usage(const char *argv0) {
    fprintf(stderr, "usage: %s AMQP_URL QUEUE COUNT [--prefetch N] [--ack-every K] [--seconds S]\n", argv0);
    exit(2);
}

int main(int argc, char **argv) {
    bench_program = "consumer";
    double start = now();
    if (argc < 4) usage(argv[0]);
    long prefetch = 1000, ack_every = 100;
    double run_seconds = 0;
    for (int i = 4; i < argc; i += 2) {
        if (i + 1 >= argc) usage(argv[0]);
        if (strcmp(argv[i], "--prefetch") == 0) prefetch = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--ack-every") == 0) ack_every = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--seconds") == 0) run_seconds = strtod(argv[i + 1], NULL);
        else usage(argv[0]);
    }
    if (prefetch < 0 || prefetch > 65535 || ack_every < 1) usage(argv[0]);
    const char *queue = argv[2];
    long count = strtol(argv[3], NULL, 10);
    // Open-ended: stop on a signal or at the deadline, so never block in the library for long.
    int open_ended = count <= 0 || run_seconds > 0;
    if (open_ended) stop_on_signals();

    char *url_text;
    amqp_connection_state_t conn = bench_connect(argv[1], &url_text);
    amqp_basic_qos(conn, 1, 0, (uint16_t)prefetch, 0);
    die_reply(amqp_get_rpc_reply(conn), "basic.qos");
    amqp_basic_consume(conn, 1, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, /* no_ack */ 0, 0, amqp_empty_table);
    die_reply(amqp_get_rpc_reply(conn), "basic.consume");

    long received = 0, acks = 0;
    uint64_t last_tag = 0, acked_tag = 0;
    struct timeval poll_timeout = {0, 100000};
    while (count <= 0 || received < count) {
        if (open_ended && (stop_requested || (run_seconds > 0 && now() - start >= run_seconds))) break;
        // Without this, rabbitmq-c keeps every frame's memory until the next RPC: it grows for the whole drain.
        amqp_maybe_release_buffers(conn);
        amqp_envelope_t envelope;
        // Without a deadline: the backlog is already in the queue, and anything but a delivery is a failure here.
        amqp_rpc_reply_t reply = amqp_consume_message(conn, &envelope, open_ended ? &poll_timeout : NULL, 0);
        if (open_ended && reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            reply.library_error == AMQP_STATUS_TIMEOUT)
            continue;
        die_reply(reply, "consume");
        received++;
        last_tag = envelope.delivery_tag;
        if (received % ack_every == 0 || received == count) {
            die_status(amqp_basic_ack(conn, 1, envelope.delivery_tag, /* multiple */ 1), "basic.ack");
            acked_tag = last_tag;
            acks++;
        }
        amqp_destroy_envelope(&envelope);
    }
    if (last_tag != acked_tag) {   // stopped between two acks: settle what we hold
        die_status(amqp_basic_ack(conn, 1, last_tag, /* multiple */ 1), "basic.ack");
        acks++;
    }

    // A clean close makes the broker settle the last ack before this process is counted as done.
    die_reply(amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS), "channel.close");
    die_reply(amqp_connection_close(conn, AMQP_REPLY_SUCCESS), "connection.close");
    amqp_destroy_connection(conn);
    free(url_text);

    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    double cpu = (double)usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + (double)usage.ru_stime.tv_sec +
                 usage.ru_stime.tv_usec / 1e6;
    if (open_ended)
        printf("{\"messages\": %ld, \"acks\": %ld, \"wall_s\": %.6f, \"cpu_s\": %.6f}\n", received, acks,
               now() - start, cpu);
    else
        printf("{\"messages\": %ld, \"wall_s\": %.6f, \"cpu_s\": %.6f}\n", received, now() - start, cpu);
    return 0;
}
