"""The tests' SMTP server and mail reader.

    mail.py serve MAILDIR PORT   an SMTP server (aiosmtpd) on 127.0.0.1:PORT that writes each
                                 message it accepts into the Maildir MAILDIR (recipients at
                                 refused.example get 550, at busy.example 451); prints "ready",
                                 stops when its standard input closes
    mail.py read MAILDIR         every message of MAILDIR parsed with Python's email package,
                                 as JSON: headers decoded, the plain-text body, each attachment's
                                 file name and SHA-256
"""
import hashlib
import json
import mailbox
import sys
from email import message_from_bytes, policy


def serve(maildir, port):
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Mailbox

    class Refusing(Mailbox):
        """A mailbox that refuses recipients at refused.example (550) and defers those at
        busy.example (451), as real servers do."""

        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address.endswith("@refused.example"):
                return "550 5.1.1 no such user here"
            if address.endswith("@busy.example"):
                return "451 4.3.0 try again later"
            envelope.rcpt_tos.append(address)
            return "250 OK"

    controller = Controller(Refusing(maildir), hostname="127.0.0.1", port=int(port))
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()
    controller.stop()


def read(maildir):
    messages = []
    for raw in mailbox.Maildir(maildir, factory=None):
        message = message_from_bytes(raw.as_bytes(), policy=policy.default)
        body = message.get_body(preferencelist=("plain",))
        attachments = [
            {
                "filename": part.get_filename(),
                "content_type": part.get_content_type(),
                "sha256": hashlib.sha256(part.get_payload(decode=True)).hexdigest(),
            }
            for part in message.iter_attachments()
        ]
        messages.append(
            {
                "message_id": message["Message-ID"],
                "from": str(message["From"]),
                "reply_to": str(message["Reply-To"]),
                "to": str(message["To"]),
                "cc": str(message["Cc"] or ""),
                "bcc": str(message["Bcc"] or ""),
                "subject": str(message["Subject"]),
                "raw_subject": message_from_bytes(raw.as_bytes())["Subject"],
                "body": body.get_content() if body is not None else "",
                "attachments": attachments,
                "headers": sorted(set(message.keys())),
            }
        )
    messages.sort(key=lambda m: m["message_id"])
    print(json.dumps(messages, ensure_ascii=False))


if __name__ == "__main__":
    {"serve": serve, "read": read}[sys.argv[1]](*sys.argv[2:])
