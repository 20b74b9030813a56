// The services' side of Benchmarks/broker_cost.sh: RPC-shaped oslo.messaging traffic from one librabbitmq connection,
// at a fixed rate or as fast as the broker takes it, so the broker's cost of each trace-bridge source mode can be
// measured under the same load.
//
//   publisher AMQP_URL RATE SECONDS [BODY_FILE]
//
// RATE messages per second (0: flat out) for SECONDS, rotating over three destinations like RPC traffic:
//   exchange "nova" (topic), routing key "conductor"           (a call or cast to nova-conductor)
//   exchange "nova",         routing key "compute.compute-1"   (a cast to one compute host)
//   the default exchange "", routing key "reply_bench"         (a reply to a caller's reply queue)
// Every message has oslo.messaging's properties (content_type application/json, content_encoding utf-8,
// delivery_mode 2, priority 0, empty headers) and the body of BODY_FILE (an oslo.messaging 2.0 envelope; without it a
// synthetic ~5 KB one). No publisher confirms, like oslo.messaging's default. SIGTERM/SIGINT stop it early.
// At the end it closes the channel and connection (the broker has then handled every publish) and prints one line:
//   {"published": N, "wall_s": S, "rate": R, "cpu_s": S}   (wall from the first publish to the connection's close)
//
// Build: cc -O2 publisher.c -lrabbitmq -o publisher
#include "bench_amqp.h"

#include <sys/resource.h>

// An oslo.messaging 2.0 envelope of about 5 KB: a cast with its context and some padding in args.
static char *synthetic_body(size_t *length) {
    static const char head[] =
        "{\"oslo.version\": \"2.0\", \"oslo.message\": \"{\\\"method\\\": \\\"build_and_run_instance\\\", "
        "\\\"args\\\": {\\\"padding\\\": \\\"";
    static const char tail[] =
        "\\\"}, \\\"namespace\\\": \\\"compute\\\", \\\"version\\\": \\\"6.0\\\", "
        "\\\"_context_request_id\\\": \\\"req-3bad318e-eed4-4dc5-ba75-0a86405f8def\\\", "
        "\\\"_context_global_request_id\\\": null, \\\"_context_user_id\\\": \\\"8a3c2ae1a7f24f4fa8bd3f4c5d1d9e21\\\", "
        "\\\"_context_project_id\\\": \\\"c1f7b1e0d8a64b5f9b0f1e2d3c4b5a69\\\", "
        "\\\"_unique_id\\\": \\\"0f6a4bbd1b3b4b8f9e0c1d2e3f405162\\\"}\"}";
    size_t padding = 5000 - sizeof head - sizeof tail;
    char *body = malloc(sizeof head + padding + sizeof tail);
    if (!body) exit(1);
    memcpy(body, head, sizeof head - 1);
    memset(body + sizeof head - 1, 'x', padding);
    memcpy(body + sizeof head - 1 + padding, tail, sizeof tail);
    *length = strlen(body);
    return body;
}

static char *read_file(const char *path, size_t *length) {
    FILE *file = fopen(path, "rb");
    if (!file) { perror(path); exit(1); }
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    fseek(file, 0, SEEK_SET);
    char *body = malloc((size_t)size + 1);
    if (!body || fread(body, 1, (size_t)size, file) != (size_t)size) { perror(path); exit(1); }
    fclose(file);
    *length = (size_t)size;
    return body;
}

int main(int argc, char **argv) {
    bench_program = "publisher";
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: %s AMQP_URL RATE SECONDS [BODY_FILE]\n", argv[0]);
        return 2;
    }
    double rate = strtod(argv[2], NULL), duration = strtod(argv[3], NULL);
    size_t body_length;
    char *body_text = argc == 5 ? read_file(argv[4], &body_length) : synthetic_body(&body_length);
    amqp_bytes_t body = {body_length, body_text};

    stop_on_signals();
    char *url_text;
    amqp_connection_state_t conn = bench_connect(argv[1], &url_text);

    static const struct { const char *exchange, *routing_key; } destinations[] = {
        {"nova", "conductor"}, {"nova", "compute.compute-1"}, {"", "reply_bench"}};
    amqp_bytes_t exchanges[3], routing_keys[3];
    for (int i = 0; i < 3; i++) {
        exchanges[i] = amqp_cstring_bytes(destinations[i].exchange);
        routing_keys[i] = amqp_cstring_bytes(destinations[i].routing_key);
    }
    amqp_basic_properties_t properties;
    memset(&properties, 0, sizeof properties);
    properties._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_CONTENT_ENCODING_FLAG | AMQP_BASIC_HEADERS_FLAG |
                        AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_PRIORITY_FLAG;
    properties.content_type = amqp_cstring_bytes("application/json");
    properties.content_encoding = amqp_cstring_bytes("utf-8");
    properties.headers = amqp_empty_table;
    properties.delivery_mode = 2;
    properties.priority = 0;

    long published = 0;
    double start = now(), deadline = start + duration;
    struct timespec nap = {0, 500000};   // paced: 0.5 ms between bursts
    while (!stop_requested) {
        double t = now();
        if (t >= deadline) break;
        long due = rate > 0 ? (long)((t - start) * rate) + 1 : published + 64;
        if (published >= due) {
            nanosleep(&nap, NULL);
            continue;
        }
        for (; published < due; published++) {
            int d = (int)(published % 3);
            die_status(amqp_basic_publish(conn, 1, exchanges[d], routing_keys[d], 0, 0, &properties, body),
                       "basic.publish");
        }
    }

    // The broker answers close-ok only after it has handled every frame before it: every publish is routed by then.
    die_reply(amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS), "channel.close");
    die_reply(amqp_connection_close(conn, AMQP_REPLY_SUCCESS), "connection.close");
    double wall = now() - start;
    amqp_destroy_connection(conn);
    free(url_text);
    free(body_text);

    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    double cpu = (double)usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + (double)usage.ru_stime.tv_sec +
                 usage.ru_stime.tv_usec / 1e6;
    printf("{\"published\": %ld, \"wall_s\": %.6f, \"rate\": %.1f, \"cpu_s\": %.6f}\n", published, wall,
           published / wall, cpu);
    return 0;
}
