"""A real SMTP server for the tests (aiosmtpd): prints {"port": N} once it listens, then one
JSON line per message it receives, parsed: envelope, headers, the text and HTML parts, and the
attachments. Runs until its standard input closes (the test that started it ended)."""

import json
import socket
import sys
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller


class Sink:
    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.content, policy=policy.default)
        out = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(msg["from"]),
            "to": str(msg["to"]),
            "subject": str(msg["subject"]),
            "text": None,
            "html": None,
            "attachments": [],
        }
        for part in msg.walk():
            if part.is_multipart():
                continue
            kind = part.get_content_type()
            if part.get_content_disposition() == "attachment":
                content = part.get_content()
                if isinstance(content, bytes):
                    content = content.decode("utf-8")
                out["attachments"].append(
                    {"filename": part.get_filename(), "content_type": kind, "content": content}
                )
            elif kind == "text/plain" and out["text"] is None:
                out["text"] = part.get_content()
            elif kind == "text/html" and out["html"] is None:
                out["html"] = part.get_content()
        print(json.dumps(out), flush=True)
        return "250 OK"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


controller = Controller(Sink(), hostname="127.0.0.1", port=free_port())
controller.start()
print(json.dumps({"port": controller.port}), flush=True)
sys.stdin.read()
controller.stop()
