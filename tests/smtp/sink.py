"""A real SMTP server for the tests (aiosmtpd, from PyPI): every message it accepts is
written to DIR as one JSON file (envelope, headers, text and HTML parts), which the tests
read to follow the links in it.

    python sink.py DIR PORT

Recipients whose address starts with "refuse" are refused with 550 (a permanent failure);
while the file DIR/.down exists, every message gets 451 (a temporary one).

To stop a sender in mid-conversation (the crash tests): while DIR/.hold-after holds N, the
message after the N-th accepted one is held before it is accepted (DIR/.held appears) until
DIR/.release exists; it is then accepted, or dropped with 451 if DIR/.discard exists, as a
server drops a message whose sender vanished before the end of DATA.
"""

import asyncio
import email
import email.policy
import json
import os
import sys
import time

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().startswith("refuse"):
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if os.path.exists(os.path.join(self.directory, ".down")):
            return "451 4.3.0 try again later"
        hold = os.path.join(self.directory, ".hold-after")
        if os.path.exists(hold) and self.count == int(open(hold).read().strip() or "0"):
            open(os.path.join(self.directory, ".held"), "w").close()
            while not os.path.exists(os.path.join(self.directory, ".release")):
                await asyncio.sleep(0.01)
            if os.path.exists(os.path.join(self.directory, ".discard")):
                return "451 4.3.0 the sender went away"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "headers": [[k, str(v)] for k, v in message.items()],
            "subject": str(message.get("Subject", "")),
            "text": text.get_content() if text else None,
            "html": html.get_content() if html else None,
        }
        self.count += 1
        name = "%d-%06d.json" % (time.time_ns(), self.count)
        partial = os.path.join(self.directory, "." + name)
        with open(partial, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.rename(partial, os.path.join(self.directory, name))
        return "250 OK"


def main():
    directory, port = sys.argv[1], int(sys.argv[2])
    os.makedirs(directory, exist_ok=True)
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        asyncio.get_event_loop().run_forever()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
