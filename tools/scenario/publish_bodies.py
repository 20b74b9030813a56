"""Publish messages of awkward sizes to a topic exchange of ours, for the live frame-reading test.

    publish_bodies.py --url amqp://guest:guest@127.0.0.1:5682/ --exchange EX --declare
    publish_bodies.py --url amqp://guest:guest@127.0.0.1:5682/ --exchange EX --publish --out sent.json

--declare creates the exchange (topic, not auto-deleted) so that an agent can bind to it; --publish sends, with
py-amqp (oslo.messaging's own AMQP client, through kombu), an empty body, a one-byte body, a body of 300,000 random
bytes (three body frames at the 131,072-byte frame size the agent negotiates) and one of 1,000,000 (eight frames),
each with headers of several AMQP types, and writes what it sent as JSON (bodies in base64); --delete removes the
exchange. The agent must capture each body byte for byte, whatever the number of frames it arrived in.
"""

import argparse
import base64
import json
import os

import amqp
import kombu


def connect(url):
    """kombu (oslo.messaging's transport) parses the URL, vhost included; its channel is py-amqp's."""
    connection = kombu.Connection(url)
    connection.connect()
    return connection


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--exchange", required=True)
    ap.add_argument("--declare", action="store_true")
    ap.add_argument("--publish", action="store_true")
    ap.add_argument("--delete", action="store_true")
    ap.add_argument("--out")
    args = ap.parse_args()
    connection = connect(args.url)
    channel = connection.default_channel
    if args.declare:
        channel.exchange_declare(args.exchange, "topic", durable=False, auto_delete=False)
    if args.publish:
        sent = []
        for index, size in enumerate([0, 1, 300_000, 1_000_000]):
            body = os.urandom(size)
            headers = {"size": size, "name": f"body-{index}-of-a-long-enough-header-value",
                       "nested": {"list": ["a", index, "0123456789abcdef0123"]}}
            routing_key = f"frames.{index}"
            channel.basic_publish(amqp.Message(body, application_headers=headers, content_type="application/octet-stream"),
                                  exchange=args.exchange, routing_key=routing_key)
            sent.append({"routing_key": routing_key, "body": base64.b64encode(body).decode(), "headers": headers})
        with open(args.out, "w") as out:
            json.dump(sent, out)
    if args.delete:
        channel.exchange_delete(args.exchange)
    connection.release()


if __name__ == "__main__":
    main()
