// C shims for rabbitmq-c (Debian librabbitmq-dev 0.11). Every symbol defined here is prefixed `tb_` and says why it
// exists; everything else is rabbitmq-c's own API, re-exported unchanged.
#ifndef TRACE_BRIDGE_CRABBITMQ_SHIM_H
#define TRACE_BRIDGE_CRABBITMQ_SHIM_H

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <amqp_ssl_socket.h>

#endif
